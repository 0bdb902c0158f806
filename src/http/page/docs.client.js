// @ts-check
// Starts Swagger UI on /openapi.json. No validator badge: it would call validator.swagger.io, which
// the page's policy (and the point of serving everything from the Worker) rules out.
/** @type {any} */ (window).SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
});
