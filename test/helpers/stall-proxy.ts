import net from 'node:net';

export type StallProxy = {port: number; stall(): void; resume(): void; close(): Promise<void>};

/**
 * A TCP proxy that can stop forwarding without closing anything: the
 * network stall that hangs a client on a socket that never answers.
 */
export async function startStallProxy(targetPort: number): Promise<StallProxy> {
	let stalled = false;
	const pairs = new Set<[net.Socket, net.Socket]>();
	const waiting = new Set<() => void>();
	const server = net.createServer(client => {
		const connect = () => {
			const upstream = net.connect(targetPort, '127.0.0.1');
			const pair: [net.Socket, net.Socket] = [client, upstream];
			pairs.add(pair);
			client.pipe(upstream);
			upstream.pipe(client);
			const end = () => {
				pairs.delete(pair);
				client.destroy();
				upstream.destroy();
			};
			client.on('error', end).on('close', end);
			upstream.on('error', end).on('close', end);
		};
		// a connection made during a stall is accepted but goes nowhere until resume
		if (stalled) waiting.add(connect);
		else connect();
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	const address = server.address() as net.AddressInfo;
	return {
		port: address.port,
		stall() {
			stalled = true;
			for (const [a, b] of pairs) {
				a.pause();
				b.pause();
			}
		},
		resume() {
			stalled = false;
			for (const [a, b] of pairs) {
				a.resume();
				b.resume();
			}
			for (const connect of waiting) connect();
			waiting.clear();
		},
		async close() {
			for (const [a, b] of pairs) {
				a.destroy();
				b.destroy();
			}
			await new Promise(resolve => server.close(resolve));
		},
	};
}
