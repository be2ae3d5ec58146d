// Staff triage shortcuts and "select all" (progressive enhancement: every page works
// without this file; links and forms do the same things).
//
// Item page: j / k follow the links marked data-key="j" / "k" (next / previous item of
// the list), u the next unclassified item, t moves to the themes. Each is announced in
// the page's aria-live region first. Keys typed in a text box, a list or with Ctrl, Alt
// or Cmd held are left alone.
// Inbox: the box at the top of the list ticks or clears every box on the page.

const announcer = document.querySelector("[data-announce]");

function announce(text) {
  if (!announcer) return;
  announcer.textContent = "";
  // A new text node after a tick, so screen readers read it even when it repeats.
  window.setTimeout(() => { announcer.textContent = text; }, 30);
}

function typing(target) {
  if (!(target instanceof Element)) return false;
  return target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']") !== null;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.altKey || event.metaKey || event.repeat || typing(event.target)) return;
  const key = event.key;
  if (key === "t") {
    const themes = document.getElementById("themes");
    if (!themes) return;
    event.preventDefault();
    const first = themes.querySelector("input[type=checkbox]");
    (first || themes).focus();
    announce("Themes. Space ticks a theme, Tab moves to the next, Enter saves.");
    return;
  }
  const link = document.querySelector(`a[data-key="${CSS.escape(key)}"]`);
  if (!link) {
    if (key === "j" || key === "k" || key === "u") {
      announce(key === "k" ? "This is the first item of the list." : "No more items in this list.");
    }
    return;
  }
  event.preventDefault();
  announce(`Opening the ${link.textContent.trim().toLowerCase()}.`);
  window.setTimeout(() => { window.location.assign(link.href); }, 150);
});

for (const all of document.querySelectorAll("input[data-select-all]")) {
  const form = all.form;
  const boxes = () => [...form.querySelectorAll(`input[type=checkbox][name="${CSS.escape(all.dataset.selectAll)}"]`)];
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    announce(all.checked ? `All ${boxes().length} items on this page ticked.` : "No items ticked.");
  });
  form.addEventListener("change", (event) => {
    if (event.target === all || event.target.name !== all.dataset.selectAll) return;
    const ticked = boxes().filter((box) => box.checked).length;
    all.checked = ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
  });
}
