/**
 * Lines the shell itself takes: header (2), tabs (1), rule (1), footer (2).
 * Its own module, read by useFrameRows: kept in app.tsx it
 * tied every screen to the shell that imports them, one import cycle.
 */
export const chromeRows = 6;
