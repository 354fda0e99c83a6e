// Live counts over server-sent events: the server sends `counts` ({"new", "saved", "deleted"}) on
// connect and on every change of the box's messages. EventSource reconnects by itself after a
// dropped connection; the cookie authenticates it (it cannot send a header).

export class Live {
  #source = null;

  constructor(url, onCounts) {
    this.url = url;
    this.onCounts = onCounts;
  }

  start() {
    this.stop();
    this.#source = new EventSource(this.url);
    this.#source.addEventListener("counts", (event) => {
      try {
        this.onCounts(JSON.parse(event.data));
      } catch (error) {
        console.error("vmbox: unreadable counts event", error);
      }
    });
  }

  stop() {
    if (this.#source) this.#source.close();
    this.#source = null;
  }
}

// The tab's title: the number of new messages first, so it shows on a crowded tab bar.
export function tabTitle(newCount, mailbox) {
  const box = mailbox ? `Voicemail ${mailbox}` : "Voicemail";
  return newCount > 0 ? `(${newCount}) ${box}` : box;
}
