// The page's entry point: resume the tab's session or ask for a login, then open a box.

import { Api } from "./api.js";
import { BoxView } from "./box_view.js";
import { announce, byId } from "./dom.js";
import { showLogin } from "./login.js";
import { logout, resumed } from "./session.js";
import { bindShortcuts } from "./shortcuts.js";

const api = new Api();
const view = new BoxView(api);
bindShortcuts(view);

function isAuthFailure(failure) {
  return failure && (failure.status === 401 || failure.status === 403);
}

// A login with an API key sees every box of its account: the first opens, a picker shows the rest.
async function pickBox(session) {
  const picker = byId("box-picker");
  const answer = await api.get(`/v2/accounts/${encodeURIComponent(session.accountId)}/vmboxes?paginate=false`);
  const boxes = answer.data || [];
  picker.replaceChildren(...boxes.map((box) => new Option(`${box.mailbox} · ${box.name}`, box.id)));
  picker.hidden = byId("box-picker-label").hidden = false;
  picker.onchange = () => view.open(session.accountId, picker.value);
  return boxes.length ? boxes[0].id : null;
}

async function openSession(session) {
  const boxId = session.boxId || (await pickBox(session));
  if (!boxId) {
    byId("box-title").textContent = "This account has no boxes yet.";
    byId("who").hidden = false;
    return;
  }
  await view.open(session.accountId, boxId);
  byId("main").focus({ preventScroll: true });
}

function askLogin() {
  view.close();
  byId("who").hidden = true;
  byId("box-picker").hidden = byId("box-picker-label").hidden = true;
  showLogin(api, (session) => openSession(session).catch(failed));
}

function failed(failure) {
  if (!isAuthFailure(failure)) throw failure;
  api.setToken(null);
  askLogin();
}

// A failure no part of the page handled: an expired login asks for a new one, anything else is said.
window.addEventListener("unhandledrejection", (event) => {
  const failure = event.reason;
  if (!failure || !failure.status) return;
  event.preventDefault();
  if (isAuthFailure(failure)) failed(failure);
  else announce(`Not done: ${failure.message}`);
});

byId("logout").onclick = async () => {
  try {
    await logout(api);
  } finally {
    askLogin();
  }
};

resumed(api)
  .then((session) => (session ? openSession(session) : askLogin()))
  .catch(failed);
