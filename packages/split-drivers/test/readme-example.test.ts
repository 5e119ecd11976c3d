import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from './readme-example.ts';

describe('README example', () => {
  it('runs and prints what the README says', async () => {
    expect(await main()).toBe('2048 sectors, status 0: hello, xvda');
  });

  it('is the code shown in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');
    const body = example.slice(example.indexOf('import {'));
    expect(readme).toContain(body.trim());
  });
});
