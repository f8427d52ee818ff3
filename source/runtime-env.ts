// Imported first by cli.tsx, before React and Ink load, because both decide
// once, at load time, from the environment:
// - React picks its build from NODE_ENV, and the development build is several
//   times slower to render.
// - Ink renders nothing but the last frame when CI or CONTINUOUS_INTEGRATION
//   is set. On a terminal the console is interactive whatever the
//   environment says (a CI runner's shell, an SSH session that inherited
//   CI=true), so those variables must not blank the screen.
// (`env.`, not `process.env.`: the bundle defines process.env.NODE_ENV as "production" and warns of an assignment to it)
const env = process.env;
env.NODE_ENV ??= 'production';
if (process.stdout.isTTY) {
	delete process.env.CI;
	delete process.env.CONTINUOUS_INTEGRATION;
}
