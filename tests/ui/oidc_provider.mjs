// A real OpenID provider (the npm package oidc-provider) on loopback, for the sign-on tests.
//
// node oidc_provider.mjs CONFIG_JSON, where CONFIG_JSON has: port, client_id, client_secret,
// redirect_uri, accounts ({login: {username, groups}}) and optionally jwks (private keys). Its development login and consent pages
// accept any password. It prints "ready ISSUER" once it listens, and stops on SIGTERM.
import Provider from "oidc-provider";

const config = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts || {};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: config.client_id,
      client_secret: config.client_secret,
      redirect_uris: [config.redirect_uri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  claims: { openid: ["sub"], profile: ["preferred_username", "name", "groups"] },
  conformIdTokenClaims: false, // the profile claims go in the id_token, as many providers do
  pkce: { required: () => true },
  cookies: { keys: ["govml-tests-only"] },
  ...(config.jwks ? { jwks: config.jwks } : {}), // the tests' own key, to sign tokens with too
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const known = accounts[id] || { username: id, groups: [] };
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: known.username, name: known.username, groups: known.groups };
      },
    };
  },
});
provider.proxy = false;
provider.on("server_error", (ctx, error) => console.error("server_error", error));

const server = provider.listen(config.port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
