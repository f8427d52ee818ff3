// Imported first by cli.tsx, before React loads: React picks its build from
// NODE_ENV once, and the development build is several times slower to render.
process.env.NODE_ENV ??= 'production';
