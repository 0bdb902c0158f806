/** GET /docs: Swagger UI over /openapi.json, every file served by the Worker itself. */
export function docsPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lowlight-edge API</title>
<link rel="stylesheet" href="/assets/swagger-ui.css">
</head>
<body>
<main id="swagger" aria-label="API reference"></main>
<script src="/assets/swagger-ui-bundle.js"></script>
<script src="/assets/docs.js"></script>
</body>
</html>
`;
}
