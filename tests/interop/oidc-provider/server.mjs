// A real third-party OpenID provider for Onramp's interop check (make interop-oidc): panva's
// oidc-provider with its development sign-in and consent pages, one confidential client.
// Usage: node server.mjs <port> <redirect_uri>; prints "listening" when ready.
import Provider from "oidc-provider";

const port = Number(process.argv[2] ?? 0);
const redirectUri = process.argv[3] ?? "onramp://callback";
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "onramp-interop",
      client_secret: "interop-secret-not-a-real-one",
      application_type: "native",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  scopes: ["openid", "offline_access", "profile"],
  claims: { openid: ["sub"], profile: ["name"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id, name: "Interop User" }; } };
  },
});
provider.listen(port, "127.0.0.1", () => console.log("listening"));
