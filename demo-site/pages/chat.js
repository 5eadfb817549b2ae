// Ending the chat asks for a rating. The stub makes the call safe even if pulsetap.js (async)
// has not finished loading yet: the call is queued, not lost.
window.pulsetap = window.pulsetap || {
  q: [],
  open: function (o) { this.q.push(["open", o]); },
  mount: function (e, o) { this.q.push(["mount", e, o]); },
};

document.getElementById("end-chat").addEventListener("click", function () {
  var chat = document.getElementById("chat");
  var log = document.getElementById("log");
  var note = document.createElement("div");
  note.className = "bubble agent";
  note.textContent = "Maya has left the chat. Thanks for chatting with us!";
  log.appendChild(note);
  this.disabled = true;
  window.pulsetap.open({
    survey: "support",
    interaction: chat.dataset.interaction,
    sig: chat.dataset.sig,
    tags: { agent: "maya", channel: "chat" },
  });
});
