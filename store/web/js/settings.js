// The Settings section: the box's settings an owner may change, sent as one PATCH (JSON merge
// patch: null removes a key). The API's validation messages are shown next to their field.

import { announce, byId } from "./dom.js";
import { displayZone } from "./format.js";

const CHECKS = {
  skip_greeting: "setting-skip-greeting",
  skip_instructions: "setting-skip-instructions",
  skip_envelope: "setting-skip-envelope",
};

function zones(current) {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return known.includes(current) ? known : [current, ...known];
}

// "a@x, b@y\nc@z" -> ["a@x", "b@y", "c@z"]
export function listOf(text) {
  return text.split(/[\s,;]+/).map((item) => item.trim()).filter(Boolean);
}

// The PATCH body for what the form holds.
export function changes(form) {
  const patch = {};
  const pin = form.pin.value.trim();
  if (pin) patch.pin = pin;
  patch.notify_email_addresses = listOf(form.notify_email_addresses.value);
  const number = form["notify.callback.number"].value.trim();
  const schedule = listOf(form["notify.callback.schedule"].value);
  patch.notify = {
    callback: {
      number: number || null,
      schedule: schedule.length ? schedule.map((item) => (/^\d+$/.test(item) ? Number(item) : item)) : null,
    },
  };
  const seek = form.seek_duration_ms.value.trim();
  patch.seek_duration_ms = seek === "" ? null : Math.round(Number(seek) * 1000);
  if (Number.isNaN(patch.seek_duration_ms)) patch.seek_duration_ms = seek;
  patch.timezone = form.timezone.value;
  for (const name of Object.keys(CHECKS)) patch[name] = form[name].checked;
  return patch;
}

export class Settings {
  constructor(api, onSaved) {
    this.api = api;
    this.paths = null;
    this.onSaved = onSaved; // called with the box as saved
    this.form = byId("settings-form");
    this.form.onsubmit = (event) => {
      event.preventDefault();
      this.save();
    };
  }

  fill(box, paths) {
    this.paths = paths;
    const form = this.form;
    form.pin.value = "";
    form.notify_email_addresses.value = (box.notify_email_addresses || []).join("\n");
    const callback = (box.notify && box.notify.callback) || {};
    form["notify.callback.number"].value = callback.number || "";
    form["notify.callback.schedule"].value = (callback.schedule || []).join(", ");
    const seekMs = box.seek_duration_ms ?? 10000;
    form.seek_duration_ms.value = String(seekMs / 1000);
    const zone = displayZone(box.timezone);
    byId("setting-timezone").replaceChildren(
      ...zones(zone).map((name) => new Option(name, name, false, name === zone)),
    );
    for (const [name] of Object.entries(CHECKS)) form[name].checked = Boolean(box[name]);
    this.#clearErrors();
  }

  #clearErrors() {
    byId("settings-error").textContent = "";
    for (const error of this.form.querySelectorAll(".field-error")) error.textContent = "";
    for (const field of this.form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  }

  // Puts each message next to its field (`notify_email_addresses.1` is the addresses' field);
  // what has no field of the form goes under it. The first field in error gets the focus.
  #showErrors(messages) {
    const loose = [];
    let first = null;
    for (const [path, text] of Object.entries(messages)) {
      const field = [...this.form.elements].find(
        (element) => element.name && (path === element.name || path.startsWith(`${element.name}.`)),
      );
      const error = field && document.getElementById(`error-${field.name}`);
      if (!error) {
        loose.push(`${path}: ${text}`);
        continue;
      }
      error.textContent = error.textContent ? `${error.textContent}; ${text}` : text;
      field.setAttribute("aria-invalid", "true");
      first = first || field;
    }
    byId("settings-error").textContent = loose.join("\n")
      || "Some settings were not saved; see the messages next to them.";
    (first || byId("settings-error")).focus?.();
  }

  async save() {
    this.#clearErrors();
    let answer;
    try {
      answer = await this.api.patch(this.paths.box, changes(this.form));
    } catch (failure) {
      if (!failure.status) throw failure;
      const messages = failure.fieldMessages();
      if (Object.keys(messages).length) this.#showErrors(messages);
      else byId("settings-error").textContent = failure.message;
      return;
    }
    this.form.pin.value = "";
    announce("Settings saved");
    this.onSaved(answer.data);
  }
}
