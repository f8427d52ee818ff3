import {spawn, type ChildProcess} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

// `npm run test:stress [-- RUNS [FILTER...]]`: the whole suite (or the files matching FILTER) RUNS
// times in a row (default 3) with two processes burning a CPU each beside it, as on a busy CI
// machine. Stops at the first failing run and reports how many consecutive runs passed.

const here = path.dirname(fileURLToPath(import.meta.url));
const [runsArg, ...filters] = process.argv.slice(2);
const runs = runsArg === undefined ? 3 : Number(runsArg);
if (!Number.isInteger(runs) || runs < 1) {
	console.error(`test:stress: RUNS must be a whole number of at least 1, not ${JSON.stringify(runsArg)}`);
	process.exit(2);
}

const burners: ChildProcess[] = [];
const stopBurners = () => {
	for (const b of burners) b.kill('SIGKILL');
};
process.on('exit', stopBurners);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));
for (let i = 0; i < 2; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], {stdio: 'ignore'}));
console.log(`test:stress: ${runs} run(s) of the suite${filters.length ? ` (${filters.join(', ')})` : ''} beside 2 CPU-burning processes (pids ${burners.map(b => b.pid).join(', ')})`);

let consecutive = 0;
const durations: string[] = [];
for (let i = 1; i <= runs; i++) {
	const started = Date.now();
	const code = await new Promise<number>(resolve => {
		const child = spawn(process.execPath, [path.join(here, 'run.js'), ...filters], {stdio: 'inherit'});
		child.on('exit', c => resolve(c ?? 1));
	});
	const took = `${((Date.now() - started) / 60_000).toFixed(1)} min`;
	durations.push(took);
	console.log(`test:stress: run ${i}/${runs} ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${took}`);
	if (code !== 0) break;
	consecutive++;
}
stopBurners();
console.log(`test:stress: ${consecutive} consecutive run(s) passed of ${runs} (${durations.join(', ')}) with 2 busy loops beside the suite`);
process.exit(consecutive === runs ? 0 : 1);
