// The login view: mailbox and PIN (and the account's name when vmbox holds several), or an
// account's API key.

import { loginWithKey, loginWithPin } from "./session.js";
import { byId } from "./dom.js";

function explain(failure, what) {
  if (failure.status === 401) return `Wrong ${what}.`;
  if (failure.status === 429) {
    const wait = failure.retryAfterS ? ` Try again in ${failure.retryAfterS} seconds.` : "";
    return `Too many attempts from this address.${wait}`;
  }
  return failure.message;
}

// Shows the Account field when the server says the account's name is needed.
function asksForAccount(failure) {
  return failure.status === 400 && "account_name" in failure.data;
}

export function showLogin(api, onLoggedIn) {
  const view = byId("login-view");
  view.hidden = false;
  const pinForm = byId("pin-form");
  const keyForm = byId("key-form");
  const mailbox = byId("login-mailbox");
  mailbox.focus();

  pinForm.onsubmit = async (event) => {
    event.preventDefault();
    const error = byId("pin-error");
    error.textContent = "";
    const pin = byId("login-pin");
    try {
      const session = await loginWithPin(api, {
        mailbox: mailbox.value.trim(), pin: pin.value, accountName: byId("login-account").value.trim(),
      });
      pin.value = "";
      view.hidden = true;
      onLoggedIn(session);
    } catch (failure) {
      if (!failure.status) throw failure;
      if (asksForAccount(failure)) {
        byId("account-field").hidden = false;
        byId("login-account").focus();
        error.textContent = failure.fieldMessages().account_name || failure.message;
        return;
      }
      error.textContent = explain(failure, "mailbox or PIN");
      pin.value = "";
      pin.focus();
    }
  };

  keyForm.onsubmit = async (event) => {
    event.preventDefault();
    const error = byId("key-error");
    error.textContent = "";
    const key = byId("login-key");
    try {
      const session = await loginWithKey(api, key.value.trim());
      key.value = "";
      view.hidden = true;
      onLoggedIn(session);
    } catch (failure) {
      if (!failure.status) throw failure;
      error.textContent = explain(failure, "API key");
      key.focus();
    }
  };
}
