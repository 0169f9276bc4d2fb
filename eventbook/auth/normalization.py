"""One spelling per email address and per password.

Emails: Unicode NFC, the local part in lower case, the domain through IDNA
(UTS #46 mapping, IDNA 2008) and stored and shown in its Unicode form
(U-labels): `X@XN--BCHER-KVA.example`, `x@bücher.example` typed in NFD and
`x@BÜCHER.example` are all `x@bücher.example`.

Passwords: Unicode NFKC before hashing and before checking, as NIST SP
800-63B (section 5.1.1.2) recommends, so a password typed on another keyboard
or system in another normal form still matches.
"""

import unicodedata

import idna

# bcrypt hashes at most this many bytes.
MAX_PASSWORD_BYTES = 72


def normalize_email(email, strict=True):
    """Return the stored form of `email` (str).

    :param strict: raise for a domain IDNA refuses; otherwise keep such a
        domain in lower case (a login names an address that may not exist).
    :raises ValueError: `strict` and the address has no `@` or its domain is
        not a valid IDNA domain name.
    """
    email = unicodedata.normalize("NFC", email.strip())
    local, at, domain = email.rpartition("@")
    if not at:
        if strict:
            raise ValueError("An email address needs an @.")
        return email.lower()
    try:
        domain = idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        if strict:
            raise ValueError("The domain of the email address is not valid.") from None
        domain = domain.lower()
    return f"{local.lower()}@{domain}"


def normalize_password(password):
    """Return the form of `password` that is hashed and checked: NFKC (NIST SP 800-63B)."""
    return unicodedata.normalize("NFKC", password)


def password_bytes(password):
    """Return the UTF-8 bytes bcrypt hashes for `password`, normalised.

    :raises UnicodeEncodeError: `password` holds a lone surrogate.
    """
    return normalize_password(password).encode("utf-8")


def password_candidates(password):
    """Yield the byte strings a stored hash may have been made from, newest rule first.

    Hashes made before passwords were normalised hold the password as typed.
    Candidates bcrypt cannot hash (over 72 bytes, lone surrogates) are left out.
    """
    seen = set()
    for form in (normalize_password(password), password):
        try:
            candidate = form.encode("utf-8")
        except UnicodeEncodeError:
            continue
        if len(candidate) <= MAX_PASSWORD_BYTES and candidate not in seen:
            seen.add(candidate)
            yield candidate
