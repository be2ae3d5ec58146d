"""Staff fixtures live in tests/staffing.py (loaded for the whole suite); helpers re-exported."""

from tests.staffing import PASSWORD, current_code, sign_in  # noqa: F401
