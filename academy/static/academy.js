// Start the NHS.UK frontend components (header menu, error summary focus, buttons).
import { initAll } from "./vendor/nhsuk-frontend/nhsuk-frontend.min.js";

initAll();

// Buttons that need this script are `hidden` in the page and shown here, so without it nobody
// meets a button that does nothing: the link to copy is still there to select by hand, and the
// browser's own print command still prints.

// Copy buttons: `data-copy-target` names the input holding the text, `data-copy-status` the
// live region that says whether it worked.
for (const button of document.querySelectorAll("[data-copy-target]")) {
  const source = document.getElementById(button.dataset.copyTarget);
  const status = document.getElementById(button.dataset.copyStatus);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.value);
      if (status) status.textContent = "Link copied";
    } catch {
      // No clipboard access (an insecure origin, or permission refused): select it instead.
      source.focus();
      source.select();
      if (status) status.textContent = "Link selected: press Ctrl+C (or ⌘C) to copy it";
    }
  });
}

for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
