// Progressive niceties only: every page works without this file.
// A select in a filter form applies at once, as its Show/Filter button would.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.form && field.form.matches(".window, .filter")) {
    field.form.requestSubmit();
  }
});
// In a targeting form's serve choice, typing a percentage picks the split and choosing a
// variant picks the variant, as a person means (without this file they pick the radio).
document.addEventListener("input", (event) => {
  const field = event.target;
  const serve = field instanceof Element ? field.closest("fieldset.serve") : null;
  if (!serve || field.type === "radio") {
    return;
  }
  const kind = field.closest(".weights") ? (field.name.endsWith(".bucket_by") ? null : "split")
    : field instanceof HTMLSelectElement ? "variant" : null;
  const radio = kind && serve.querySelector(`input[type="radio"][value="${kind}"]`);
  if (radio) {
    radio.checked = true;
  }
});
