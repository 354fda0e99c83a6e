// How a message looks: its entry in the folder's list and the open message's details.

import { byId, h } from "./dom.js";
import { caller, formatSeconds, formatWhen, isoWhen } from "./format.js";

export function messageId(message) {
  return message.media_id;
}

export function listEntry(message, timeZone, transcription, onOpen) {
  const who = caller(message);
  const button = h(
    "button",
    { type: "button", class: "message", "data-id": messageId(message), onclick: onOpen },
    h("span", { class: "caller", text: who.name }),
    who.number ? h("span", { class: "number", text: who.number }) : null,
    h("time", {
      class: "when", datetime: isoWhen(message.timestamp), text: formatWhen(message.timestamp, timeZone),
    }),
    h("span", {
      class: "length", text: formatSeconds(message.length / 1000),
      "aria-label": `length ${formatSeconds(message.length / 1000)}`,
    }),
    transcription ? h("span", { class: "snippet", text: transcription }) : null,
  );
  return h("li", {}, button);
}

export function showDetail(message, timeZone) {
  const who = caller(message);
  byId("detail-caller").textContent = who.name;
  byId("detail-number").textContent = who.number;
  byId("detail-when").textContent = formatWhen(message.timestamp, timeZone);
  byId("detail-length").textContent = formatSeconds(message.length / 1000);
  showTranscription(transcriptionOf(message));
}

export function showTranscription(text) {
  const quote = byId("detail-transcription");
  quote.textContent = text || "";
  quote.hidden = !text;
}

// The text of a successful transcription in a message's whole metadata, or "".
export function transcriptionOf(message) {
  const transcription = message.transcription;
  if (!transcription || transcription.result !== "success") return "";
  return typeof transcription.text === "string" ? transcription.text.trim() : "";
}

// Which actions a message in `folder` offers.
export function actionsFor(folder) {
  return {
    save: folder === "new",
    new: folder === "saved",
    delete: folder !== "deleted",
    restore: folder === "deleted",
  };
}
