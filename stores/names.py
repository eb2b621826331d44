"""How a person's name is written wherever staff appear (tablet header, receipts, staff figures,
dashboards, admin lists): one rule, so a page never shows "丽 王".

Chinese, Japanese and Korean names are written family name first and without a space (王丽); other
names the way Django's `get_full_name()` writes them, given name first ("Li Wang")."""

# Han ideographs with their radicals and extensions, kana, bopomofo and hangul.
_CJK = (
    (0x2E80, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)


def _is_cjk(text: str) -> bool:
    return any(low <= ord(ch) <= high for ch in text for low, high in _CJK)


def person_name(first: str | None, last: str | None) -> str:
    """王丽 from first="丽", last="王"; "Li Wang" from first="Li", last="Wang"; "" when both are blank."""
    first, last = (first or "").strip(), (last or "").strip()
    if _is_cjk(first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


def staff_name(user) -> str:
    """A staff member's name as people read it, or their login when no name is on file."""
    if user is None or not user.is_authenticated:
        return ""
    return person_name(user.first_name, user.last_name) or user.get_username()


def staff_label(first: str | None, last: str | None, username: str) -> str:
    """王丽 (cashier_sh): the name with the login after it, for reports where two people may share a name."""
    name = person_name(first, last)
    return f"{name} ({username})" if name else username
