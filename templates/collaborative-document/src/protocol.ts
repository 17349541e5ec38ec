// What the editor page and the document's object agree on. Each WebSocket message is binary:
// a varuint message type, then the y-protocols payload of that type (as y-websocket sends them,
// so other Yjs providers' clients can talk to the object too).

/** y-protocols sync: sync step 1 (a state vector), step 2 (the missing updates), or an update. */
export const MESSAGE_SYNC = 0;
/** y-protocols awareness: who is connected, with a name and a colour. Relayed, never stored. */
export const MESSAGE_AWARENESS = 1;

/** The document's text, as a Y.Text of this name in the Y.Doc. */
export const TEXT_NAME = "content";

/** Document names: in URLs (`/d/<name>`) and as the object's name. */
export const DOCUMENT_NAME = /^[\w-]{1,64}$/;
