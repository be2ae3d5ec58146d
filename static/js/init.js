// Start NHS.UK frontend's progressive enhancements (pages work without this file).
import { initAll } from "../nhsuk/nhsuk-frontend.min.js";
initAll();
