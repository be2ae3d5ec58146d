"""Personal-data detection: find the personal details in a text (emails, phone and NHS
numbers, postcodes, names) and propose a copy with each one replaced by a placeholder.

Used by staff redaction and by anything else that must keep personal data out of what
it shows. The rules are in ``detect``; the word lists they rely on (postcode areas,
words and places that are not names, names that are also words) are text files in
``data/``, shipped with the package.
"""

from engage.personal_data.detect import (
    PLACEHOLDERS,
    Finding,
    find_pii,
    nhs_number_is_valid,
    propose,
    summary,
)

__all__ = ["PLACEHOLDERS", "Finding", "find_pii", "nhs_number_is_valid", "propose", "summary"]
