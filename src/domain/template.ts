import Handlebars from 'handlebars';
import { DomainError } from './errors.ts';
import type { Channel } from './notification.ts';

// SPEC section 5: templates are versioned by slug, channel and locale and rendered by
// Handlebars in strict mode, so a variable the template uses but the caller did not give is an
// error that names it (TEMPLATE_VARIABLE_MISSING), never an empty hole in a page.

export interface Template {
  id: string;
  slug: string;
  channel: Channel;
  locale: string;
  version: number;
  subject: string | null;
  body: string;
  created_by: string;
  created_at: Date;
}

export type ContentType = 'text' | 'html';

export interface Rendered {
  subject: string | null;
  content: string;
  /** Email bodies are HTML, with every variable escaped; other channels get plain text as is. */
  content_type: ContentType;
}

export const slugPattern = '^[a-z0-9][a-z0-9._-]{0,99}$';

/** Why a locale tag cannot be used, or null. */
export function localeProblem(locale: string): string | null {
  try {
    return Intl.getCanonicalLocales(locale).length === 1 ? null : 'must be one BCP 47 language tag such as en or pt-BR';
  } catch {
    return 'must be a BCP 47 language tag such as en or pt-BR';
  }
}

/** The canonical spelling of a locale tag (pt-br → pt-BR), so that lookups match. */
export const canonicalLocale = (locale: string): string => Intl.getCanonicalLocales(locale)[0]!;

/** SPEC section 5: the locales to try, most specific first: pt-BR → pt → en. */
export function localeChain(locale: string | null | undefined): string[] {
  const chain: string[] = [];
  if (locale && localeProblem(locale) === null) {
    const tags = canonicalLocale(locale).split('-');
    for (let n = tags.length; n >= 1; n--) chain.push(tags.slice(0, n).join('-'));
  }
  chain.push('en');
  return [...new Set(chain)];
}

const engine = Handlebars.create();

// Only the built-in helpers (if, unless, each, with, lookup): a misspelt helper is refused when
// the template is saved rather than discovered while paging someone at night.
const options = (escape: boolean) => ({ strict: true, knownHelpersOnly: true, noEscape: !escape });

/** Why a template source cannot be compiled, or null. */
export function templateSyntaxProblem(source: string): string | null {
  try {
    engine.precompile(source, options(false));
    return null;
  } catch (error) {
    return `is not a valid Handlebars template: ${(error as Error).message.split('\n').join(' ').replace(/\s+/g, ' ')}`;
  }
}

// Compiled templates by id: a stored version never changes, so its compiled form never goes stale.
const compiled = new Map<string, Handlebars.TemplateDelegate>();
const CACHE_SIZE = 500;

function compile(key: string, source: string, escape: boolean): Handlebars.TemplateDelegate {
  const cacheKey = `${key}:${escape ? 'html' : 'text'}`;
  let fn = compiled.get(cacheKey);
  if (!fn) {
    fn = engine.compile(source, options(escape));
    if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
    compiled.set(cacheKey, fn);
  }
  return fn;
}

/** The variable path a strict-mode error points at, read from the source at the error's location. */
function missingVariable(error: unknown, source: string): string | undefined {
  const e = error as { message?: string; lineNumber?: number; column?: number; endColumn?: number };
  const named = /^"([^"]+)" not defined in/.exec(e.message ?? '')?.[1];
  if (named === undefined) return undefined;
  if (e.lineNumber !== undefined && e.column !== undefined && e.endColumn !== undefined) {
    const line = source.split('\n')[e.lineNumber - 1] ?? '';
    const written = line.slice(e.column, e.endColumn).trim();
    if (/^[\w.@/[\]-]+$/.test(written) && written.endsWith(named)) return written.replace(/^this\./, '');
  }
  return named;
}

export interface RenderOptions {
  /** Where the variables sit in the request, for the error details ("body.variables"). */
  field?: string;
}

/**
 * Renders a template's subject and body with `variables`. Throws TEMPLATE_VARIABLE_MISSING naming
 * the variable, or VALIDATION_ERROR when the template fails in another way.
 */
export function renderTemplate(template: Pick<Template, 'id' | 'channel' | 'subject' | 'body' | 'slug' | 'locale' | 'version'>, variables: Record<string, unknown>, renderOptions: RenderOptions = {}): Rendered {
  const html = template.channel === 'email';
  const run = (part: 'subject' | 'body', source: string, escape: boolean) => {
    try {
      return compile(`${template.id}:${part}`, source, escape)(variables);
    } catch (error) {
      const field = renderOptions.field ?? 'body.variables';
      const variable = missingVariable(error, source);
      const which = `template ${template.slug} (${template.channel}, ${template.locale}, version ${template.version})`;
      if (variable !== undefined) {
        throw new DomainError('TEMPLATE_VARIABLE_MISSING', `${which} uses the variable ${variable}, which was not given`, [
          { field: `${field}.${variable}`, message: 'is used by the template but was not given', variable },
        ]);
      }
      throw new DomainError('VALIDATION_ERROR', `${which} could not be rendered: ${(error as Error).message.split('\n')[0]}`, [
        { field, message: `the template could not be rendered with these variables: ${(error as Error).message.split('\n')[0]}` },
      ]);
    }
  };
  return {
    // A subject is a header line, never HTML, and never more than one line.
    subject: template.subject === null ? null : run('subject', template.subject, false).replace(/[\r\n]+/g, ' ').trim(),
    content: run('body', template.body, html),
    content_type: html ? 'html' : 'text',
  };
}
