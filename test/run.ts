import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {clusterEnv, clusterInfo, startCluster, stopCluster} from './helpers/cluster.js';

// One PostgreSQL for the whole run: node 20's test runner has no global
// setup, so this wrapper starts it, hands its address to every test file
// through the environment, and always stops it.
const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = fs
	.readdirSync(here)
	.filter(f => f.endsWith('.test.js'))
	.filter(f => filters.length === 0 || filters.some(x => f.includes(x)))
	.sort()
	.map(f => path.join(here, f));

const server = await startCluster();
let code = 1;
try {
	const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
		stdio: 'inherit',
		env: {...process.env, [clusterEnv]: JSON.stringify(clusterInfo(server))},
	});
	code = await new Promise<number>(resolve => child.on('exit', c => resolve(c ?? 1)));
} finally {
	await stopCluster(server);
}
process.exit(code);
