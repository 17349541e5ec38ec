// A 4 KB JavaScript file the bench serves as a static asset (w7).
export function handler0(event) {
  return { id: 0, name: "item-0", at: event.timeStamp };
}
export function handler1(event) {
  return { id: 1, name: "item-1", at: event.timeStamp };
}
export function handler2(event) {
  return { id: 2, name: "item-2", at: event.timeStamp };
}
export function handler3(event) {
  return { id: 3, name: "item-3", at: event.timeStamp };
}
export function handler4(event) {
  return { id: 4, name: "item-4", at: event.timeStamp };
}
export function handler5(event) {
  return { id: 5, name: "item-5", at: event.timeStamp };
}
export function handler6(event) {
  return { id: 6, name: "item-6", at: event.timeStamp };
}
export function handler7(event) {
  return { id: 7, name: "item-7", at: event.timeStamp };
}
export function handler8(event) {
  return { id: 8, name: "item-8", at: event.timeStamp };
}
export function handler9(event) {
  return { id: 9, name: "item-9", at: event.timeStamp };
}
export function handler10(event) {
  return { id: 10, name: "item-10", at: event.timeStamp };
}
export function handler11(event) {
  return { id: 11, name: "item-11", at: event.timeStamp };
}
export function handler12(event) {
  return { id: 12, name: "item-12", at: event.timeStamp };
}
export function handler13(event) {
  return { id: 13, name: "item-13", at: event.timeStamp };
}
export function handler14(event) {
  return { id: 14, name: "item-14", at: event.timeStamp };
}
export function handler15(event) {
  return { id: 15, name: "item-15", at: event.timeStamp };
}
export function handler16(event) {
  return { id: 16, name: "item-16", at: event.timeStamp };
}
export function handler17(event) {
  return { id: 17, name: "item-17", at: event.timeStamp };
}
export function handler18(event) {
  return { id: 18, name: "item-18", at: event.timeStamp };
}
export function handler19(event) {
  return { id: 19, name: "item-19", at: event.timeStamp };
}
export function handler20(event) {
  return { id: 20, name: "item-20", at: event.timeStamp };
}
export function handler21(event) {
  return { id: 21, name: "item-21", at: event.timeStamp };
}
export function handler22(event) {
  return { id: 22, name: "item-22", at: event.timeStamp };
}
export function handler23(event) {
  return { id: 23, name: "item-23", at: event.timeStamp };
}
export function handler24(event) {
  return { id: 24, name: "item-24", at: event.timeStamp };
}
export function handler25(event) {
  return { id: 25, name: "item-25", at: event.timeStamp };
}
export function handler26(event) {
  return { id: 26, name: "item-26", at: event.timeStamp };
}
export function handler27(event) {
  return { id: 27, name: "item-27", at: event.timeStamp };
}
export function handler28(event) {
  return { id: 28, name: "item-28", at: event.timeStamp };
}
export function handler29(event) {
  return { id: 29, name: "item-29", at: event.timeStamp };
}
export function handler30(event) {
  return { id: 30, name: "item-30", at: event.timeStamp };
}
export function handler31(event) {
  return { id: 31, name: "item-31", at: event.timeStamp };
}
export function handler32(event) {
  return { id: 32, name: "item-32", at: event.timeStamp };
}
export function handler33(event) {
  return { id: 33, name: "item-33", at: event.timeStamp };
}
export function handler34(event) {
  return { id: 34, name: "item-34", at: event.timeStamp };
}
export function handler35(event) {
  return { id: 35, name: "item-35", at: event.timeStamp };
}
export function handler36(event) {
  return { id: 36, name: "item-36", at: event.timeStamp };
}
export function handler37(event) {
  return { id: 37, name: "item-37", at: event.timeStamp };
}
export function handler38(event) {
  return { id: 38, name: "item-38", at: event.timeStamp };
}
export function handler39(event) {
  return { id: 39, name: "item-39", at: event.timeStamp };
}
export function handler40(event) {
  return { id: 40, name: "item-40", at: event.timeStamp };
}
export function handler41(event) {
  return { id: 41, name: "item-41", at: event.timeStamp };
}
export function handler42(event) {
  return { id: 42, name: "item-42", at: event.timeStamp };
}
export function handler43(event) {
  return { id: 43, name: "item-43", at: event.timeStamp };
}
