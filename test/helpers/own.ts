import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {TestContext} from 'node:test';
import {testDatabase, type TestDatabase} from './db.js';
import {renderApp, type RenderedApp} from './render.js';

export type Owned = {
	db: TestDatabase;
	/** the state dir (audit log, backup catalog, sign-offs), INTOWORK_DB_STATE while the test runs */
	stateDir: string;
	/** undone when the test ends, last first: consoles and sessions before the database they are on */
	defer(fn: () => unknown): void;
	/** a console of the test's own on its database (or `url`), cleaned up with the test */
	app(options?: Parameters<typeof renderApp>[1], url?: string): Promise<RenderedApp>;
};

/**
 * What a test owns, so that nothing it leaves (a dialog, a tag, a row, a catalog entry) reaches the next:
 * a database copied from the template, a state dir and the consoles it opens, all gone when it ends.
 * Tests in a file run one at a time, so INTOWORK_DB_STATE can be the running test's.
 */
export async function own(t: TestContext, name: string, options: {empty?: boolean} = {}): Promise<Owned> {
	const undo: (() => unknown)[] = [];
	const defer = (fn: () => unknown) => void undo.push(fn);
	t.after(async () => {
		for (const fn of undo.reverse()) await fn();
	});
	const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `intowork-${name}-`));
	process.env.INTOWORK_DB_STATE = stateDir;
	defer(() => fs.rmSync(stateDir, {recursive: true, force: true}));
	const db = await testDatabase({empty: options.empty, after: defer});
	return {
		db,
		stateDir,
		defer,
		async app(appOptions, url = db.url) {
			const app = await renderApp(url, appOptions);
			defer(() => app.cleanup());
			return app;
		},
	};
}
