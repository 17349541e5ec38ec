/**
 * The chat page: `/?room=lobby&name=ann` joins room "lobby" as ann (it asks for a name if none
 * is given). Plain HTML and script, so the app needs no build step.
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Stead chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  #messages { list-style: none; padding: 0; border: 1px solid #ccc; height: 20rem; overflow-y: auto; }
  #messages li { padding: .25rem .5rem; }
  #messages li.notice { color: #777; font-style: italic; }
  form { display: flex; gap: .5rem; margin-top: .5rem; }
  #text { flex: 1; }
</style>
</head>
<body>
<h1>Room <span id="room"></span></h1>
<p id="status">Connecting…</p>
<ul id="messages"></ul>
<form id="send">
  <input id="text" autocomplete="off" placeholder="Say something" maxlength="1000">
  <button>Send</button>
</form>
<script>
  const params = new URLSearchParams(location.search);
  const room = params.get("room") || "lobby";
  const name = (params.get("name") || prompt("Your name?") || "").trim().slice(0, 32) || "anonymous";
  document.getElementById("room").textContent = room;
  const list = document.getElementById("messages");
  const status = document.getElementById("status");
  function show(text, notice) {
    const item = document.createElement("li");
    item.textContent = text;
    if (notice) item.className = "notice";
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }
  const protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(protocol + "//" + location.host + "/rooms/" + encodeURIComponent(room) + "/ws?name=" + encodeURIComponent(name));
  let opened = false;
  socket.onopen = () => { opened = true; status.textContent = "Connected as " + name; };
  socket.onclose = () => {
    status.textContent = opened
      ? "Disconnected"
      : "Could not connect: room names are 1 to 64 letters, digits, - or _";
  };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "history") for (const m of data.messages) show(m.name + ": " + m.text);
    if (data.type === "message") show(data.message.name + ": " + data.message.text);
    if (data.type === "joined") show(data.name + " joined", true);
    if (data.type === "left") show(data.name + " left", true);
    if (data.type === "error") show(data.error, true);
  };
  document.getElementById("send").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    if (input.value.trim() === "") return;
    socket.send(JSON.stringify({ text: input.value }));
    input.value = "";
  });
</script>
</body>
</html>
`;
