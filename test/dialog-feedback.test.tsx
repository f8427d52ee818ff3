import assert from 'node:assert/strict';
import {test} from 'node:test';
import {own} from './helpers/own.js';
import type {RenderedApp} from './helpers/render.js';

// Every confirmed action says so at once, through the one dialog path, then its result.

/** Opens a dialog whose action settles only when the test says so. */
function openDialog(app: RenderedApp, label: string): {settle(error?: Error): void} {
	let resolve!: () => void;
	let reject!: (e: Error) => void;
	const work = new Promise<void>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	app.store.setState({dialog: {title: `Probe ${label}?`, lines: ['a line'], confirmLabel: label, onConfirm: () => work}});
	return {settle: error => (error ? reject(error) : resolve())};
}

test('sending… as soon as y is pressed, done when the action has finished', async t => {
	const app = await (await own(t, 'dialog-feedback')).app();
	await app.waitForFrame(/● live/);
	const action = openDialog(app, 'probe');
	await app.waitForFrame(/Probe probe\?/);
	app.press('y');
	const frame = await app.waitForFrame(/probe: sending…/, 'sending… while the action has not finished');
	assert.doesNotMatch(frame, /Probe probe\?/, 'the dialog is closed');
	action.settle();
	await app.waitForFrame(/probe: done/, 'done once it finished');
});

test('a failed action says so, with the reason', async t => {
	const app = await (await own(t, 'dialog-feedback')).app();
	await app.waitForFrame(/● live/);
	const action = openDialog(app, 'fragile');
	await app.waitForFrame(/Probe fragile\?/);
	app.press('y');
	await app.waitForFrame(/fragile: sending…/);
	action.settle(new Error('the server said no'));
	await app.waitForFrame(/fragile failed: the server said no/);
});
