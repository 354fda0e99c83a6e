// The REST API as the page uses it: KAZOO's envelope in and out, failures as ApiFailure.
//
// The auth token lives only in this object (memory); the HttpOnly cookie the login set carries it
// for what cannot send a header (<audio>, downloads, EventSource). Every request says
// X-Requested-With: vmbox, which the server asks of state-changing requests a cookie authenticates
// (another site's form cannot send it).

export class ApiFailure extends Error {
  constructor(status, body, headers) {
    const data = body && typeof body === "object" ? body.data : undefined;
    const message = (data && typeof data.message === "string" && data.message)
      || (body && body.message) || `the server answered ${status}`;
    super(message);
    this.status = status;
    this.code = body && body.message;
    this.data = data && typeof data === "object" ? data : {};
    this.retryAfterS = Number(headers.get("Retry-After")) || null;
  }

  // Validation errors by field: {"pin": "Failed to match pattern ..."} from KAZOO's
  // {"data": {"pin": {"pattern": {"message": ...}}}}.
  fieldMessages() {
    const messages = {};
    for (const [field, rules] of Object.entries(this.data)) {
      if (rules && typeof rules === "object") {
        const texts = Object.values(rules).map((rule) => rule && rule.message).filter(Boolean);
        if (texts.length) messages[field] = texts.join("; ");
      }
    }
    return messages;
  }
}

export class Api {
  #token = null;

  setToken(token) {
    this.#token = token || null;
  }

  async request(method, path, { json, body, contentType } = {}) {
    const headers = { "X-Requested-With": "vmbox", Accept: "application/json" };
    if (this.#token) headers["X-Auth-Token"] = this.#token;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify({ data: json });
    } else if (contentType) {
      headers["Content-Type"] = contentType;
    }
    const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
    const parsed = (response.headers.get("Content-Type") || "").includes("json")
      ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiFailure(response.status, parsed, response.headers);
    return parsed;
  }

  get(path) { return this.request("GET", path); }
  put(path, data) { return this.request("PUT", path, { json: data }); }
  post(path, data) { return this.request("POST", path, { json: data }); }
  patch(path, data) { return this.request("PATCH", path, { json: data }); }
  delete(path) { return this.request("DELETE", path); }
}

// Paths of one box's resources.
export function boxPaths(accountId, boxId) {
  const account = `/v2/accounts/${encodeURIComponent(accountId)}`;
  const box = `${account}/vmboxes/${encodeURIComponent(boxId)}`;
  return {
    account,
    boxes: `${account}/vmboxes`,
    box,
    events: `${box}/events`,
    folder: (folder) => `${box}/messages?filter_folder=${folder}&paginate=false`,
    message: (id) => `${box}/messages/${encodeURIComponent(id)}`,
    audio: (id) => `${box}/messages/${encodeURIComponent(id)}/raw`,
    forward: (id) => `${box}/messages/${encodeURIComponent(id)}/forward`,
    greeting: (kind) => `${box}/greetings/${kind}`,
  };
}
