"use strict";
// switchyard-wasm: the Node entry (CommonJS; `import` from ES modules works too).
// wasm-bindgen's nodejs build loads the WebAssembly synchronously on require.
const wasm = require("./node/switchyard_wasm.js");

/** The fixed event names (a frozen object). */
exports.EVENTS = wasm.eventTable();
exports.isValidEventName = wasm.isValidEventName;
exports.meterRoom = wasm.meterRoom;
exports.parseRoom = wasm.parseRoom;
exports.systemRoom = wasm.systemRoom;
exports.ticketRoom = wasm.ticketRoom;
exports.userRoom = wasm.userRoom;
exports.validateAnnouncement = wasm.validateAnnouncement;
exports.validateCustomData = wasm.validateCustomData;
exports.validateMeterReading = wasm.validateMeterReading;
exports.validateNotification = wasm.validateNotification;
exports.validateTicketUpdate = wasm.validateTicketUpdate;
