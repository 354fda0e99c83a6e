// Logging in and out. A login answers with a token, which the Api keeps in memory, and sets the
// HttpOnly cookie; a reloaded tab asks the server who its cookie is (GET /v2/vmbox_auth) instead
// of keeping anything in the browser's storage.

// {accountId, accountName, boxId, mailbox} from an identity answer (boxId null for an account's
// login, which sees all its boxes).
function sessionOf(identity) {
  return {
    accountId: identity.account_id,
    accountName: identity.account_name,
    boxId: identity.vmbox_id || null,
    mailbox: identity.mailbox || null,
  };
}

export async function loginWithPin(api, { mailbox, pin, accountName }) {
  const credentials = { mailbox, pin };
  if (accountName) credentials.account_name = accountName;
  const answer = await api.put("/v2/vmbox_auth", credentials);
  api.setToken(answer.auth_token);
  return sessionOf(answer.data);
}

export async function loginWithKey(api, apiKey) {
  const answer = await api.put("/v2/api_auth", { api_key: apiKey });
  api.setToken(answer.auth_token);
  return sessionOf(answer.data);
}

// The session the browser's cookie still holds, or null.
export async function resumed(api) {
  try {
    return sessionOf((await api.get("/v2/vmbox_auth")).data);
  } catch (failure) {
    if (failure.status === 401) return null;
    throw failure;
  }
}

export async function logout(api) {
  try {
    await api.delete("/v2/vmbox_auth");
  } finally {
    api.setToken(null);
  }
}
