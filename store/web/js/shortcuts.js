// Keyboard shortcuts (listed in the page's "Keyboard shortcuts" section). They are off while a
// text field, list or checkbox has the focus, and Space is left to a focused button other than a
// message, where it presses the button.

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

function ignored(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return true;
  const target = event.target;
  if (TYPING.has(target.tagName) || target.isContentEditable) return true;
  if (event.key === " " && target.closest("button, a, summary, audio")) {
    return !target.matches("button.message");
  }
  return false;
}

export function bindShortcuts(view) {
  const keys = {
    j: () => view.messages.step(1),
    k: () => view.messages.step(-1),
    " ": () => view.player.toggle(),
    ArrowLeft: () => view.player.skip(-view.player.stepS),
    ArrowRight: () => view.player.skip(view.player.stepS),
    s: () => view.messages.canDo("save") && view.messages.move("saved"),
    u: () => view.messages.canDo("new") && view.messages.move("new"),
    d: () => view.messages.canDo("delete") && view.messages.move("deleted"),
    r: () => view.messages.canDo("restore") && view.messages.move("saved", "Message restored to Saved"),
    f: () => view.messages.open && document.getElementById("forward-mailbox").focus(),
    1: () => view.messages.showFolder("new"),
    2: () => view.messages.showFolder("saved"),
    3: () => view.messages.showFolder("deleted"),
  };
  const listener = (event) => {
    const action = keys[event.key];
    if (!action || ignored(event) || !view.active) return;
    event.preventDefault();
    action();
  };
  document.addEventListener("keydown", listener);
  return () => document.removeEventListener("keydown", listener);
}
