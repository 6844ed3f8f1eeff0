// Sign-in: OAuth 2.0 authorization code with PKCE (S256). The token lives in sessionStorage only:
// gone when the tab closes, never in a cookie, and out of the URL as soon as it is exchanged.
const TOKEN_KEY = "eventrelay.console.token";
const FLOW_KEY = "eventrelay.console.flow";

export function token() {
  return window.sessionStorage.getItem(TOKEN_KEY);
}

export function signOut() {
  window.sessionStorage.removeItem(TOKEN_KEY);
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(byteCount) {
  const bytes = new Uint8Array(byteCount);
  window.crypto.getRandomValues(bytes);
  return base64url(bytes);
}

export async function startSignIn(config) {
  const verifier = randomText(48);
  const state = randomText(16);
  const challenge = base64url(await window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  window.sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, returnTo: window.location.hash }));
  const authorize = new URL(config.authorizeUrl, window.location.origin);
  authorize.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: config.redirectUrl,
    scope: config.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(authorize.toString());
}

// Back from the authorize page with ?code=…&state=…: exchange the code, then drop it from the URL.
export async function finishSignIn(config) {
  const query = new URLSearchParams(window.location.search);
  const code = query.get("code");
  const error = query.get("error");
  if (!code && !error) return null;
  const flow = JSON.parse(window.sessionStorage.getItem(FLOW_KEY) || "null");
  window.sessionStorage.removeItem(FLOW_KEY);
  const returnTo = flow ? flow.returnTo : "";
  window.history.replaceState(null, "", `${window.location.pathname}${returnTo || ""}`);
  if (error) throw new Error(`Sign-in refused: ${error}`);
  if (!flow || flow.state !== query.get("state")) throw new Error("Sign-in refused: the state does not match");
  const answer = await fetch(new URL(config.tokenUrl, window.location.origin), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    credentials: "omit",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      code_verifier: flow.verifier,
      redirect_uri: config.redirectUrl,
      client_id: config.clientId,
    }).toString(),
  });
  const tokens = await answer.json();
  if (!answer.ok) throw new Error(`Sign-in refused: ${tokens.error || answer.status}`);
  // Cognito's ID token carries the groups claim and the client id as audience, as the API expects.
  window.sessionStorage.setItem(TOKEN_KEY, tokens.id_token || tokens.access_token);
  return true;
}
