"""Tables of the change log (the outbox), webhook subscriptions and their deliveries."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from eventbook.extensions import db
from eventbook.models import UTCDateTime, utcnow

# A BIGINT on PostgreSQL, and SQLite's INTEGER, the only type it auto-increments.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Change(db.Model):
    """One change of an event or of what belongs to it, written in the
    transaction that made it, so that it exists if and only if that commits.

    `xid` is the writing transaction's id on PostgreSQL; the change feed
    uses it to show only changes of finished transactions.
    """

    __tablename__ = "changes"
    __table_args__ = (
        Index("ix_changes_organizer_id_id", "organizer_id", "id"),
        # The feed's pages on PostgreSQL: the changes of transactions since a snapshot.
        Index("ix_changes_organizer_id_xid", "organizer_id", "xid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    # No foreign key: the log outlives a deleted event.
    event_id: Mapped[int] = mapped_column(Integer)
    # The organiser of the event when the change happened: whose feed shows it.
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    data: Mapped[dict] = mapped_column(JSON)
    xid: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookSubscription(db.Model):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Space-separated change types; none means every type.
    event_types: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(500))
    # The signing secret, encrypted with a key derived from SECRET_KEY.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    # Start of the current unbroken run of failed attempts, if any.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def events(self):
        return self.event_types.split() if self.event_types else None


class WebhookDelivery(db.Model):
    """One change to send to one subscription, until it is delivered or given up.

    A worker owns it while `leased_until` is in the future; `lease_token`
    tells its writes from those of a worker whose lease ran out.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    # pending (to be attempted at next_attempt_at), delivered or failed (given up).
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(db.Model):
    """One HTTP attempt of a delivery, as the deliveries list shows it."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        Index("ix_webhook_delivery_attempts_subscription_id_id", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    # Copied from the delivery, so the list reads one table.
    subscription_id: Mapped[int] = mapped_column(Integer)
    change_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    # delivered, retrying (another attempt is scheduled) or failed (given up).
    state: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
