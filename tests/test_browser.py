"""The built site in a real browser: headless Chromium loads the home page and every chapter over HTTP and a test
checks what a reader sees (title, figures loaded, maths typeset). Screenshots go to build/screenshots/.

Chromium is driven through the DevTools protocol over a pipe (--remote-debugging-pipe), with the standard library only.
"""
import base64, functools, http.server, json, os, shutil, subprocess, tempfile, threading
from pathlib import Path
import pytest
from site_pages import ROOT, SITE, chapter_title, need, need_site, page_of, sidebar_sources

CHAPTERS = sidebar_sources()
SHOTS = ROOT/'build'/'screenshots'
SCREENSHOT = {'index.ipynb': 'home.png', '06_finetuning.ipynb': 'finetuning.png'}
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--hide-scrollbars', '--window-size=1280,1600']

def chromium_path():
    return os.environ.get('CHROMIUM') or shutil.which('chromium') or shutil.which('chromium-browser')

class Chromium:
    "A headless Chromium spoken to through the DevTools protocol on file descriptors 3 (in) and 4 (out)."
    def __init__(self, exe: str):
        self.profile = tempfile.mkdtemp(prefix='ftbook-chromium-')
        to_r, self._w = os.pipe()
        self._r, from_w = os.pipe()
        def fds():
            os.dup2(to_r, 3); os.dup2(from_w, 4)
        self.proc = subprocess.Popen([exe, *FLAGS, f'--user-data-dir={self.profile}', '--remote-debugging-pipe',
                                      'about:blank'], pass_fds=(3, 4, to_r, from_w), preexec_fn=fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r); os.close(from_w)
        self._buf, self._id, self.events = b'', 0, []

    def _read(self) -> dict:
        while b'\0' not in self._buf:
            chunk = os.read(self._r, 1 << 20)
            if not chunk: raise RuntimeError(f"chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method: str, session: str = None, **params) -> dict:
        self._id += 1
        msg = dict(id=self._id, method=method, params=params, **({'sessionId': session} if session else {}))
        os.write(self._w, json.dumps(msg).encode() + b'\0')
        while True:
            r = self._read()
            if r.get('id') == self._id:
                if 'error' in r: raise RuntimeError(f"{method}: {r['error']}")
                return r['result']
            self.events.append(r)

    def wait_event(self, method: str, session: str):
        while True:
            for i, e in enumerate(self.events):
                if e.get('method') == method and e.get('sessionId') == session: return self.events.pop(i)
            self.events.append(self._read())

    def close(self):
        try: self.send('Browser.close')
        except Exception: pass
        try: self.proc.wait(10)
        except subprocess.TimeoutExpired: self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

# Runs in the page once it has loaded: what a reader would see.
LOOK = """(async () => {
  if (document.fonts) await document.fonts.ready;
  const imgs = [...document.querySelectorAll('main img, #quarto-document-content img')];
  await Promise.all(imgs.map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('pre, code, script, style, .katex, .sourceCode').forEach(e => e.remove());
  const text = main.textContent;
  const maths = [...document.querySelectorAll('span.math')];
  return {
    title: (document.querySelector('h1.title') || document.querySelector('h1') || {}).textContent || '',
    images: imgs.map(i => [i.getAttribute('src'), i.naturalWidth]),
    math: maths.length,
    untypeset: maths.filter(m => !m.querySelector('.katex')).map(m => m.textContent.slice(0, 60)),
    katex: document.querySelectorAll('.katex').length,
    raw: ['\\\\(', '\\\\[', '$$'].filter(s => text.includes(s)),
    height: document.documentElement.scrollHeight,
  };
})()"""

class Quiet(http.server.SimpleHTTPRequestHandler):
    "Serves the site, silently; remembers what the browser asked for and did not get."
    missing = []
    def log_message(self, *a): pass
    def send_error(self, code, *a, **k):
        if not self.path.startswith('/favicon.ico'): Quiet.missing.append(f"{code} {self.path}")
        super().send_error(code, *a, **k)

@pytest.fixture(scope='module')
def browser():
    need_site()
    exe = chromium_path()
    need(bool(exe), "Chromium is not installed (Debian: apt-get install -y chromium)")
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(SITE)))
    Quiet.missing = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    b = Chromium(exe)
    try: yield b, f'http://127.0.0.1:{server.server_address[1]}/'
    finally:
        b.close(); server.shutdown()

def look_at(b: Chromium, url: str, shot: Path = None) -> dict:
    target = b.send('Target.createTarget', url='about:blank')['targetId']
    s = b.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
    try:
        b.send('Page.enable', s)
        b.send('Page.navigate', s, url=url)
        b.wait_event('Page.loadEventFired', s)
        r = b.send('Runtime.evaluate', s, expression=LOOK, awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in r: raise RuntimeError(f"{url}: {r['exceptionDetails']}")
        seen = r['result']['value']
        if shot:
            h = min(seen['height'], 4000)
            png = b.send('Page.captureScreenshot', s, format='png', captureBeyondViewport=True,
                         clip=dict(x=0, y=0, width=1280, height=h, scale=1))['data']
            shot.parent.mkdir(parents=True, exist_ok=True)
            shot.write_bytes(base64.b64decode(png))
        return seen
    finally:
        b.send('Target.closeTarget', targetId=target)

@pytest.mark.parametrize('src', CHAPTERS)
def test_reader_sees_the_page(browser, src):
    b, base = browser
    page = page_of(src)
    assert (SITE/page).is_file(), f"{page} was not built"
    Quiet.missing.clear()
    seen = look_at(b, base + page, SHOTS/SCREENSHOT[src] if src in SCREENSHOT else None)
    assert not Quiet.missing, f"{page}: the browser asked the site for files it does not have: {Quiet.missing}"
    title = chapter_title(src)
    if title: assert seen['title'].strip() == title, f"{page} shows title {seen['title']!r}, the notebook says {title!r}"
    else: assert seen['title'].strip(), f"{page} shows no title"
    blank = [s for s, w in seen['images'] if not w > 0]
    assert not blank, f"{page}: figures that did not load: {blank}"
    assert not seen['untypeset'], f"{page}: maths KaTeX did not typeset: {seen['untypeset'][:5]}"
    assert not seen['raw'], f"{page}: raw TeX delimiters {seen['raw']} left in the text a reader sees"
    if seen['math']: assert seen['katex'] >= seen['math'], f"{page}: {seen['math']} maths spans, {seen['katex']} typeset"
    print(f"{page}: title {seen['title']!r}, {len(seen['images'])} figure(s) loaded, {seen['math']} maths span(s) typeset")

def test_screenshots_written(browser):
    "The screenshots people look at: written by test_reader_sees_the_page, non-empty PNGs."
    for src, name in SCREENSHOT.items():
        if src not in CHAPTERS: continue
        f = SHOTS/name
        if not f.exists(): look_at(browser[0], browser[1] + page_of(src), f)
        assert f.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and f.stat().st_size > 10_000, f"{f} is not a real screenshot"
