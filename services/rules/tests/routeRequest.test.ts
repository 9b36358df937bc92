import { describe, expect, it } from "vitest";
import { routeRequest } from "../src/routeRequest.js";

const ROUTES = [
  { method: "GET", path: "/rules" },
  { method: "POST", path: "/rules/validate" },
  { method: "GET", path: "/rules/{id}" },
  { method: "POST", path: "/rules/{id}" },
  { method: "POST", path: "/rules/{id}/versions/{version}/restore" },
] as const;

describe("routeRequest", () => {
  it.each([
    ["GET", "/rules", "/rules", {}],
    ["GET", "/rules/", "/rules", {}],
    ["get", "/rules/a b#2", "/rules/{id}", { id: "a b#2" }],
    ["POST", "/rules/validate", "/rules/validate", {}],
    ["POST", "/rules/x", "/rules/{id}", { id: "x" }],
    [
      "POST",
      "/rules/x/versions/3/restore",
      "/rules/{id}/versions/{version}/restore",
      { id: "x", version: "3" },
    ],
  ])("%s %s -> %s", (method, path, pattern, params) => {
    expect(routeRequest(ROUTES, method, path)).toMatchObject({
      kind: "found",
      route: { path: pattern },
      params,
    });
  });

  it("tells a wrong method, with the methods the path has, from an unknown path", () => {
    expect(routeRequest(ROUTES, "DELETE", "/rules/validate")).toEqual({
      kind: "wrongMethod",
      allow: ["POST", "GET"],
    });
    expect(routeRequest(ROUTES, "GET", "/rules/x/versions")).toEqual({ kind: "notFound" });
    expect(routeRequest(ROUTES, "GET", "/")).toEqual({ kind: "notFound" });
  });
});
