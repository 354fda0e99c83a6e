// One box opened: its messages, greetings and settings, kept current by the live counts.

import { boxPaths } from "./api.js";
import { byId } from "./dom.js";
import { displayZone } from "./format.js";
import { Greetings } from "./greetings.js";
import { Live, tabTitle } from "./live.js";
import { Messages } from "./messages.js";
import { Player } from "./player.js";
import { Settings } from "./settings.js";

export class BoxView {
  constructor(api) {
    this.api = api;
    this.active = false;
    this.box = null;
    this.paths = null;
    this.live = null;
    this.counts = null;
    this.player = new Player();
    this.messages = new Messages(api, this.player);
    this.greetings = new Greetings(api, () => this.reload());
    this.settings = new Settings(api, (box) => this.#saved(box));
  }

  async open(accountId, boxId) {
    this.close();
    this.paths = boxPaths(accountId, boxId);
    this.box = (await this.api.get(this.paths.box)).data;
    this.active = true;
    byId("box-view").hidden = false;
    byId("who").hidden = false;
    this.#showBox();
    this.settings.fill(this.box, this.paths);
    this.greetings.render(this.box, this.paths);
    this.live = new Live(this.paths.events, (counts) => this.#counted(counts));
    this.live.start();
    await this.messages.use(this.paths, displayZone(this.box.timezone));
  }

  close() {
    this.active = false;
    this.live?.stop();
    this.live = null;
    this.counts = null;
    this.player.unload();
    byId("box-view").hidden = true;
    document.title = tabTitle(0, "");
  }

  // Reads the box again after its greetings changed.
  async reload() {
    this.box = (await this.api.get(this.paths.box)).data;
    this.greetings.render(this.box, this.paths);
  }

  #showBox() {
    const box = this.box;
    byId("box-title").textContent = `${box.name} · mailbox ${box.mailbox}`;
    byId("zone").textContent = `Times in ${displayZone(box.timezone)}`;
    this.player.setStep(box.seek_duration_ms ?? 10000);
    document.title = tabTitle(this.counts ? this.counts.new : 0, box.mailbox);
  }

  async #saved(box) {
    const zoneChanged = displayZone(box.timezone) !== displayZone(this.box.timezone);
    this.box = box;
    this.#showBox();
    this.settings.fill(box, this.paths);
    if (zoneChanged) await this.messages.use(this.paths, displayZone(box.timezone));
  }

  async #counted(counts) {
    const changed = JSON.stringify(counts) !== JSON.stringify(this.counts);
    this.counts = counts;
    this.messages.showCounts(counts);
    document.title = tabTitle(Number(counts.new) || 0, this.box.mailbox);
    if (changed) await this.messages.refresh();
  }
}
