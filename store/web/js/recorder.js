// Recording from the microphone with MediaRecorder (the browser's own format, e.g. webm/opus: the
// server converts any audio it is given).

export function canRecord() {
  return Boolean(window.isSecureContext && navigator.mediaDevices && window.MediaRecorder);
}

export class Recording {
  #stream;
  #recorder;
  #chunks = [];

  static async start() {
    const recording = new Recording();
    recording.#stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    recording.#recorder = new MediaRecorder(recording.#stream);
    recording.#recorder.ondataavailable = (event) => {
      if (event.data.size) recording.#chunks.push(event.data);
    };
    recording.#recorder.start();
    return recording;
  }

  // The recorded audio, once the recorder has handed over its last piece.
  stop() {
    return new Promise((resolve) => {
      this.#recorder.onstop = () => {
        for (const track of this.#stream.getTracks()) track.stop();
        resolve(new Blob(this.#chunks, { type: this.#recorder.mimeType || "audio/webm" }));
      };
      this.#recorder.stop();
    });
  }
}
