// Starts Swagger UI on the API docs page from the settings in its container's data attributes,
// so the page needs no inline script under the Content-Security-Policy.
window.addEventListener("load", () => {
  const container = document.getElementById("swagger-ui-container");
  const config = {
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui-container",
    ...JSON.parse(container.dataset.config || "{}"),
  };
  window.ui = window.SwaggerUIBundle(config);
});
