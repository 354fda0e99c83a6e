// The Messages section: folder tabs, the folder's messages, the open message and what can be done
// with it (save, mark new, delete to Deleted, restore, download, forward).

import { byId, announce } from "./dom.js";
import { actionsFor, listEntry, messageId, showDetail, showTranscription, transcriptionOf } from "./message_view.js";

const FOLDERS = ["new", "saved", "deleted"];
const MOVED = { saved: "Message saved", new: "Message marked new", deleted: "Message deleted" };

export class Messages {
  constructor(api, player) {
    this.api = api;
    this.player = player;
    this.paths = null;
    this.timeZone = "UTC";
    this.folder = "new";
    this.messages = [];
    this.drawn = null; // the zone, folder and messages the list shows, as JSON
    this.openId = null;
    this.transcriptions = new Map(); // message id -> text, fetched once
    this.#wire();
  }

  #wire() {
    for (const folder of FOLDERS) {
      byId(`tab-${folder}`).onclick = () => this.showFolder(folder);
    }
    // The tabs' own keys (WAI-ARIA tabs pattern): arrows move between folders.
    document.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
      const by = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!by) return;
      event.preventDefault();
      event.stopPropagation();
      const next = FOLDERS[(FOLDERS.indexOf(this.folder) + by + FOLDERS.length) % FOLDERS.length];
      byId(`tab-${next}`).focus();
      this.showFolder(next);
    });
    byId("action-save").onclick = () => this.move("saved");
    byId("action-new").onclick = () => this.move("new");
    byId("action-delete").onclick = () => this.move("deleted");
    byId("action-restore").onclick = () => this.move("saved", "Message restored to Saved");
    byId("forward-form").onsubmit = (event) => {
      event.preventDefault();
      this.forward(byId("forward-mailbox").value.trim());
    };
  }

  // Shows the messages of another box (or the same box in another time zone).
  async use(paths, timeZone) {
    if (paths !== this.paths) this.transcriptions.clear();
    this.paths = paths;
    this.timeZone = timeZone;
    this.openId = null;
    await this.showFolder(this.folder);
  }

  get open() {
    return this.messages.find((message) => messageId(message) === this.openId) || null;
  }

  async showFolder(folder) {
    this.folder = folder;
    for (const name of FOLDERS) {
      const tab = byId(`tab-${name}`);
      tab.setAttribute("aria-selected", String(name === folder));
      tab.tabIndex = name === folder ? 0 : -1;
    }
    byId("folder-panel").setAttribute("aria-labelledby", `tab-${folder}`);
    this.openId = null;
    await this.refresh();
  }

  // Reads the folder again; the open message stays open (and playing) when it is still there.
  async refresh() {
    const answer = await this.api.get(this.paths.folder(this.folder));
    const messages = Array.isArray(answer.data) ? answer.data : [];
    this.messages = messages;
    await this.#fetchTranscriptions();
    const drawing = JSON.stringify([this.timeZone, this.folder, messages, [...this.transcriptions]]);
    if (drawing !== this.drawn) this.#render();
    this.drawn = drawing;
    if (!this.open) {
      this.openId = null;
      if (this.messages.length) this.select(messageId(this.messages[0]), { focus: false });
      else this.#closeDetail();
    }
  }

  async #fetchTranscriptions() {
    const missing = this.messages.filter(
      (message) => message.transcribed && !this.transcriptions.has(messageId(message)),
    );
    await Promise.all(missing.map(async (message) => {
      const whole = await this.api.get(this.paths.message(messageId(message)));
      this.transcriptions.set(messageId(message), transcriptionOf(whole.data));
    }));
  }

  // Draws the folder's list again; a message that had the focus keeps it (a live update must not
  // take it from someone using the keyboard).
  #render() {
    const list = byId("message-list");
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
    list.replaceChildren(...this.messages.map((message) => listEntry(
      message, this.timeZone, this.transcriptions.get(messageId(message)),
      () => this.select(messageId(message)),
    )));
    byId("empty-folder").hidden = this.messages.length > 0;
    this.#markOpen();
    if (focused) list.querySelector(`button[data-id="${CSS.escape(focused)}"]`)?.focus();
  }

  #markOpen() {
    for (const button of byId("message-list").querySelectorAll("button.message")) {
      if (button.dataset.id === this.openId) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  #closeDetail() {
    byId("message-detail").hidden = true;
    this.player.unload();
  }

  select(id, { focus = true } = {}) {
    const message = this.messages.find((item) => messageId(item) === id);
    if (!message) return;
    const reopened = id === this.openId;
    this.openId = id;
    this.#markOpen();
    if (focus) byId("message-list").querySelector(`button[data-id="${CSS.escape(id)}"]`)?.focus();
    if (reopened) return;
    byId("message-detail").hidden = false;
    showDetail(message, this.timeZone);
    showTranscription(this.transcriptions.get(id));
    const actions = actionsFor(this.folder);
    byId("action-save").hidden = !actions.save;
    byId("action-new").hidden = !actions.new;
    byId("action-delete").hidden = !actions.delete;
    byId("action-restore").hidden = !actions.restore;
    byId("action-download").href = this.paths.audio(id);
    byId("forward-error").textContent = "";
    byId("forward-mailbox").removeAttribute("aria-invalid");
    this.player.load(this.paths.audio(id), message.length);
  }

  step(by) {
    if (!this.messages.length) return;
    const at = this.messages.findIndex((message) => messageId(message) === this.openId);
    const to = Math.min(Math.max(at + by, 0), this.messages.length - 1);
    this.select(messageId(this.messages[to]));
  }

  canDo(action) {
    return Boolean(this.open) && actionsFor(this.folder)[action];
  }

  async move(folder, said = MOVED[folder]) {
    const message = this.open;
    if (!message) return;
    const at = this.messages.indexOf(message);
    await this.api.post(this.paths.message(messageId(message)), { folder });
    this.messages.splice(at, 1);
    this.drawn = null;
    this.openId = null;
    this.#render();
    if (this.messages.length) {
      this.select(messageId(this.messages[Math.min(at, this.messages.length - 1)]));
    } else {
      this.#closeDetail();
      byId(`tab-${this.folder}`).focus();
    }
    announce(said);
  }

  async forward(mailbox) {
    const message = this.open;
    const field = byId("forward-mailbox");
    const error = byId("forward-error");
    if (!message) return;
    error.textContent = "";
    field.removeAttribute("aria-invalid");
    try {
      await this.api.post(this.paths.forward(messageId(message)), { mailbox });
      field.value = "";
      announce(`Message forwarded to mailbox ${mailbox}`);
    } catch (failure) {
      if (!failure.status) throw failure;
      const messages = Object.values(failure.fieldMessages());
      error.textContent = messages.length ? messages.join("; ") : failure.message;
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  showCounts(counts) {
    for (const folder of FOLDERS) {
      const count = Number(counts[folder]) || 0;
      byId(`count-${folder}`).textContent = String(count);
    }
  }
}
