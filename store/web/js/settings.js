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

const DEFAULT_SEEK_MS = 10000; // the box schema's default

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// `value` for `key` of the patch when it differs from the box's `current`; an emptied field is a
// null (which removes the key) only where the box has one: a null the box lacks would be stored.
function changed(patch, key, value, current) {
  if (value === undefined && current !== undefined) patch[key] = null;
  else if (value !== undefined && !same(value, current)) patch[key] = value;
}

function seconds(text) {
  return /^\d+$/.test(text) ? Number(text) : text;
}

// The PATCH body for what the form changes in `box`.
export function changes(form, box) {
  const patch = {};
  const pin = form.pin.value.trim();
  if (pin) patch.pin = pin;
  changed(patch, "notify_email_addresses", listOf(form.notify_email_addresses.value),
    box.notify_email_addresses || []);
  const current = (box.notify && box.notify.callback) || {};
  const callback = {};
  changed(callback, "number", form["notify.callback.number"].value.trim() || undefined,
    current.number);
  const schedule = listOf(form["notify.callback.schedule"].value).map(seconds);
  changed(callback, "schedule", schedule.length ? schedule : undefined, current.schedule);
  if (Object.keys(callback).length) patch.notify = { callback };
  const seek = form.seek_duration_ms.value.trim();
  const seekMs = seek === "" ? undefined : Math.round(Number(seek) * 1000);
  if (!(box.seek_duration_ms === undefined && seekMs === DEFAULT_SEEK_MS)) {
    changed(patch, "seek_duration_ms", Number.isNaN(seekMs) ? seek : seekMs, box.seek_duration_ms);
  }
  changed(patch, "timezone", form.timezone.value || undefined, box.timezone);
  for (const name of Object.keys(CHECKS)) {
    if (form[name].checked !== Boolean(box[name])) patch[name] = form[name].checked;
  }
  return patch;
}

export class Settings {
  constructor(api, onSaved) {
    this.api = api;
    this.paths = null;
    this.box = null;
    this.onSaved = onSaved; // called with the box as saved
    this.form = byId("settings-form");
    this.form.onsubmit = (event) => {
      event.preventDefault();
      this.save();
    };
  }

  fill(box, paths) {
    this.paths = paths;
    this.box = box;
    const form = this.form;
    form.pin.value = "";
    form.notify_email_addresses.value = (box.notify_email_addresses || []).join("\n");
    const callback = (box.notify && box.notify.callback) || {};
    form["notify.callback.number"].value = callback.number || "";
    form["notify.callback.schedule"].value = (callback.schedule || []).join(", ");
    const seekMs = box.seek_duration_ms ?? DEFAULT_SEEK_MS;
    form.seek_duration_ms.value = String(seekMs / 1000);
    // A box without a zone of its own inherits its owner's or vmbox's: "Not set" keeps it so.
    const own = box.timezone && box.timezone !== "inherit" ? displayZone(box.timezone) : "";
    byId("setting-timezone").replaceChildren(
      new Option("Not set (the owner's or vmbox's)", "", false, own === ""),
      ...zones(own || "UTC").map((name) => new Option(name, name, false, name === own)),
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
    }
    byId("settings-error").textContent = loose.join("\n")
      || "Some settings were not saved; see the messages next to them.";
    const first = this.form.querySelector("[aria-invalid=true]");
    if (first) first.focus();
  }

  async save() {
    this.#clearErrors();
    let answer;
    try {
      answer = await this.api.patch(this.paths.box, changes(this.form, this.box));
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
