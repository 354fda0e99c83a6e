// The Greetings section: hear, record, upload and remove the unavailable and temporary greetings
// and the recorded name. A box names its greetings in `media` (media ids); the audio is at
// …/greetings/<kind>, with the media id in the query so a new greeting is never a cached old one.

import { announce, byId, h } from "./dom.js";
import { canRecord, Recording } from "./recorder.js";

export const GREETINGS = [
  { kind: "unavailable", media: "unavailable", title: "Unavailable greeting",
    none: "None: callers hear the standard greeting." },
  { kind: "temporary", media: "temporary_unavailable", title: "Temporary greeting",
    none: "None. While there is one, callers hear it instead of the unavailable greeting." },
  { kind: "name", media: "name", title: "Name", none: "None recorded." },
];

export class Greetings {
  constructor(api, onChanged) {
    this.api = api;
    this.paths = null;
    this.onChanged = onChanged; // called after a change, to read the box again
    this.recording = null;
  }

  render(box, paths) {
    this.paths = paths;
    const media = box.media || {};
    byId("greeting-list").replaceChildren(
      ...GREETINGS.map((greeting) => this.#card(greeting, media[greeting.media])),
    );
  }

  #card(greeting, mediaId) {
    const id = `greeting-${greeting.kind}`;
    const error = h("p", { class: "error", id: `${id}-error`, role: "alert" });
    const upload = h("input", {
      type: "file", id: `${id}-file`, accept: "audio/*", class: "visually-hidden",
      onchange: (event) => this.#upload(greeting, event.target.files[0], error),
    });
    const record = h("button", {
      type: "button", id: `${id}-record`, text: "Record", disabled: !canRecord(),
      onclick: (event) => this.#toggleRecording(greeting, event.target, error),
    });
    return h(
      "article", { class: "greeting", id, "aria-labelledby": `${id}-title` },
      h("h3", { id: `${id}-title`, text: greeting.title }),
      mediaId
        ? h("audio", {
          controls: true, preload: "metadata", id: `${id}-audio`, "aria-label": greeting.title,
          src: `${this.paths.greeting(greeting.kind)}?media=${encodeURIComponent(mediaId)}`,
        })
        : h("p", { class: "hint", text: greeting.none }),
      h(
        "div", { class: "greeting-actions" },
        record,
        upload,
        h("label", { for: `${id}-file`, class: "button", text: "Upload a file" }),
        mediaId
          ? h("button", {
            type: "button", id: `${id}-remove`, text: "Remove",
            onclick: () => this.#remove(greeting, error),
          })
          : null,
      ),
      canRecord() ? null : h("p", {
        class: "hint", text: "Recording needs the page opened over HTTPS (or on this machine).",
      }),
      error,
    );
  }

  async #save(greeting, body, contentType, error, said) {
    error.textContent = "";
    try {
      await this.api.request("PUT", this.paths.greeting(greeting.kind), { body, contentType });
    } catch (failure) {
      if (!failure.status) throw failure;
      const messages = Object.values(failure.fieldMessages());
      error.textContent = messages.length ? messages.join("; ") : failure.message;
      return;
    }
    announce(said);
    await this.onChanged();
    byId(`greeting-${greeting.kind}-record`).focus();
  }

  async #upload(greeting, file, error) {
    if (!file) return;
    await this.#save(
      greeting, file, file.type || "application/octet-stream", error, `${greeting.title} uploaded`,
    );
  }

  async #toggleRecording(greeting, button, error) {
    if (this.recording) {
      if (this.recording.kind !== greeting.kind) return; // one recording at a time
      const { recording } = this.recording;
      this.recording = null;
      const audio = await recording.stop();
      await this.#save(greeting, audio, audio.type, error, `${greeting.title} recorded`);
      return;
    }
    try {
      this.recording = { kind: greeting.kind, recording: await Recording.start() };
    } catch (failure) {
      error.textContent = `The microphone cannot be used: ${failure.message}`;
      return;
    }
    button.textContent = "Stop recording";
    button.setAttribute("aria-pressed", "true");
    announce(`Recording the ${greeting.title.toLowerCase()}; press Stop recording when done`);
  }

  async #remove(greeting, error) {
    error.textContent = "";
    try {
      await this.api.delete(this.paths.greeting(greeting.kind));
    } catch (failure) {
      if (!failure.status) throw failure;
      error.textContent = failure.message;
      return;
    }
    announce(`${greeting.title} removed`);
    await this.onChanged();
    byId(`greeting-${greeting.kind}-record`).focus();
  }
}
