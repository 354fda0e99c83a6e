// The audio player of the open message: play/pause, a seek bar, and back/forward by the box's step.
// The <audio> element fetches the message itself (the cookie authenticates it); the server answers
// range requests, so seeking does not wait for the whole file.

import { byId } from "./dom.js";
import { formatSeconds } from "./format.js";

export class Player {
  constructor() {
    this.audio = byId("player");
    this.playButton = byId("play");
    this.seek = byId("seek");
    this.position = byId("position");
    this.rewindButton = byId("rewind");
    this.forwardButton = byId("fast-forward");
    this.stepS = 10;
    this.fallbackS = 0; // the message's listed length, until the audio says its own
    this.#wire();
  }

  #wire() {
    const audio = this.audio;
    this.playButton.addEventListener("click", () => this.toggle());
    this.rewindButton.addEventListener("click", () => this.skip(-this.stepS));
    this.forwardButton.addEventListener("click", () => this.skip(this.stepS));
    this.seek.addEventListener("input", () => {
      audio.currentTime = Number(this.seek.value);
      this.#show();
    });
    for (const event of ["loadedmetadata", "durationchange", "timeupdate", "seeked", "emptied"]) {
      audio.addEventListener(event, () => this.#show());
    }
    for (const event of ["play", "pause", "ended", "emptied"]) {
      audio.addEventListener(event, () => this.#showPlaying());
    }
  }

  get duration() {
    const duration = this.audio.duration;
    return Number.isFinite(duration) && duration > 0 ? duration : this.fallbackS;
  }

  load(url, lengthMs) {
    this.audio.pause();
    this.fallbackS = lengthMs / 1000;
    this.audio.src = url;
    this.audio.load();
    this.#show();
  }

  unload() {
    this.audio.pause();
    this.audio.removeAttribute("src");
    this.audio.load();
  }

  setStep(ms) {
    this.stepS = ms > 0 ? ms / 1000 : 10;
    const seconds = `${this.stepS} second${this.stepS === 1 ? "" : "s"}`;
    this.rewindButton.textContent = `− ${this.stepS} s`;
    this.rewindButton.setAttribute("aria-label", `Back ${seconds}`);
    this.forwardButton.textContent = `+ ${this.stepS} s`;
    this.forwardButton.setAttribute("aria-label", `Forward ${seconds}`);
  }

  toggle() {
    if (!this.audio.src) return;
    if (this.audio.paused) this.audio.play().catch(() => {});
    else this.audio.pause();
  }

  skip(seconds) {
    if (!this.audio.src) return;
    const to = Math.min(Math.max(this.audio.currentTime + seconds, 0), this.duration);
    this.audio.currentTime = to;
    this.#show();
  }

  #show() {
    const duration = this.duration;
    const at = this.audio.currentTime || 0;
    this.seek.max = String(duration);
    this.seek.value = String(at);
    const text = `${formatSeconds(at)} / ${formatSeconds(duration)}`;
    this.position.textContent = text;
    this.seek.setAttribute("aria-valuetext", `${formatSeconds(at)} of ${formatSeconds(duration)}`);
  }

  #showPlaying() {
    const playing = !this.audio.paused && !this.audio.ended;
    this.playButton.textContent = playing ? "Pause" : "Play";
  }
}
