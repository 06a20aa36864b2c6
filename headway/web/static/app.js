// Progressive niceties only: every page works without this file.
// A select in a filter form applies at once, as its Show/Filter button would.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.form && field.form.matches(".window, .filter")) {
    field.form.requestSubmit();
  }
});
