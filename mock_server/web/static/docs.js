// Swagger UI over both contracts; "Try it out" always calls this mock, with a demo key
// (and the control token given as /docs#token=T, for a server run with --control-token).
const controlToken = new URLSearchParams(window.location.hash.slice(1)).get("token");
window.ui = SwaggerUIBundle({
  urls: [
    { url: "/openapi.json", name: "Pixxel API (openapi/pixxel.yaml)" },
    { url: "/__mock/openapi.json", name: "pixxel-mock control API (openapi/control.yaml)" },
  ],
  "urls.primaryName": "Pixxel API (openapi/pixxel.yaml)",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  validatorUrl: null, // no call to the online validator: the page works offline
  tryItOutEnabled: false,
  requestInterceptor: (request) => {
    const url = new URL(request.url, window.location.origin);
    request.url = window.location.origin + url.pathname + url.search;
    if (!request.headers.Authorization && url.pathname.startsWith("/v0/")) {
      request.headers.Authorization = "pxm_demo_alpha";
    }
    if (controlToken && url.pathname.startsWith("/__mock/")) {
      request.headers["X-Mock-Token"] = controlToken;
    }
    return request;
  },
  onComplete: () => window.ui.preauthorizeApiKey("ApiKeyAuth", "pxm_demo_alpha"),
});
