// Times, lengths and callers as the page shows them. Pure functions.

// KAZOO's timestamps are Gregorian seconds: seconds since year 0, 62167219200 before the Unix epoch.
const GREGORIAN_UNIX_OFFSET_S = 62167219200;

export function unixMs(gregorianSeconds) {
  return (gregorianSeconds - GREGORIAN_UNIX_OFFSET_S) * 1000;
}

// The box's zone when this browser knows it, else the browser's own.
export function displayZone(name) {
  if (typeof name === "string" && name && name !== "inherit") {
    try {
      new Intl.DateTimeFormat("en", { timeZone: name });
      return name;
    } catch {
      // an unknown zone: fall through to the browser's
    }
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function formatWhen(gregorianSeconds, timeZone) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone, dateStyle: "medium", timeStyle: "short",
  }).format(new Date(unixMs(gregorianSeconds)));
}

export function isoWhen(gregorianSeconds) {
  return new Date(unixMs(gregorianSeconds)).toISOString();
}

// 0:07, 2:05, 1:02:05.
export function formatSeconds(seconds) {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

const UNKNOWN = new Set(["", "anonymous", "unknown"]);

// {name, number} of a message's caller; a caller KAZOO calls "anonymous" is unknown.
export function caller(message) {
  const number = UNKNOWN.has(String(message.caller_id_number || "").toLowerCase())
    ? "" : String(message.caller_id_number);
  const given = UNKNOWN.has(String(message.caller_id_name || "").toLowerCase())
    ? "" : String(message.caller_id_name);
  const name = given || number || "Unknown caller";
  return { name, number: name === number ? "" : number };
}
