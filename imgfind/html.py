"""The HTML report: one self-contained file that shows a plan's groups and edits it. Pure.

Input is a plan document (plan.to_json). The page embeds it as JSON and renders it with a
little JavaScript, 50 groups a page, so 10,000 groups open at once; pictures are the files
themselves (``file://`` URLs, ``loading="lazy"``), so nothing is copied and nothing is
fetched from a network. Every name goes into the page through ``textContent``, never as
markup, and the embedded JSON has ``<``, ``>`` and ``&`` escaped, so a file named
``<img src=x onerror=alert(1)>.jpg`` shows as text. The user can pick another file to keep
and mark files "not a duplicate"; "Download plan" writes the edited plan (same format) for
``imgfind apply``.
"""

from __future__ import annotations

import html
import json
from typing import Any

PAGE_SIZE = 50

_CSS = """
body{font:14px system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{position:sticky;top:0;background:#233;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;z-index:2}
header h1{font-size:16px;margin:0;flex:1}
button{font:inherit;padding:4px 10px;cursor:pointer}
.group{background:#fff;margin:12px 16px;padding:10px;border-radius:6px;box-shadow:0 1px 2px #0002}
.group h2{font-size:14px;margin:0 0 8px}
.files{display:flex;flex-wrap:wrap;gap:10px}
.file{width:200px;border:2px solid #ddd;border-radius:4px;padding:6px;font-size:12px}
.file.kept{border-color:#2a7}
.file.ignored{opacity:.55;border-style:dashed}
.file img{width:188px;height:140px;object-fit:contain;background:#eee;display:block}
.name{font-weight:600;word-break:break-all;margin:4px 0}
.badge{display:inline-block;padding:1px 5px;border-radius:3px;color:#fff;font-size:11px;margin-right:4px}
.b-kept{background:#2a7}.b-ref{background:#36c}.b-rm{background:#c43}
.facts{color:#555;line-height:1.4}
.pager{margin:12px 16px;display:flex;gap:8px;align-items:center}
"""

_JS = r"""
(function(){
const data = JSON.parse(document.getElementById('plan-data').textContent);
const PAGE = %(page)d;
let page = 0;
const kept = data.groups.map(g => g.kept);
const ignored = data.groups.map(() => new Set());
function el(tag, cls, text){const e=document.createElement(tag); if(cls) e.className=cls;
  if(text!==undefined) e.textContent=String(text); return e;}
function fileUrl(p){return 'file://' + p.split('/').map(encodeURIComponent).join('/');}
function size(n){const u=['B','KB','MB','GB']; let i=0; while(n>=1024&&i<3){n/=1024;i++;}
  return (i?n.toFixed(1):n)+' '+u[i];}
function render(){
  const root=document.getElementById('groups'); root.replaceChildren();
  const n=data.groups.length, pages=Math.max(1,Math.ceil(n/PAGE));
  document.getElementById('pageinfo').textContent='page '+(page+1)+' of '+pages+' ('+n+' groups)';
  for(let gi=page*PAGE; gi<Math.min(n,(page+1)*PAGE); gi++){
    const g=data.groups[gi], box=el('section','group'); box.dataset.group=gi;
    const rule = kept[gi]===g.kept ? g.rule : 'your choice';
    box.appendChild(el('h2',null,'Group '+(gi+1)+' · '+g.files.length+' files · kept by rule: '+rule
      +(g.first_partial?' · first file: a partial match, the picture the whole copies were cut from':'')));
    const row=el('div','files');
    for(const f of g.files){
      const isKept=f.path===kept[gi], isIgn=ignored[gi].has(f.path);
      const card=el('div','file'+(isKept?' kept':'')+(isIgn?' ignored':''));
      const img=el('img'); img.loading='lazy'; img.alt=''; img.src=fileUrl(f.path); card.appendChild(img);
      const badges=el('div');
      if(isKept) badges.appendChild(el('span','badge b-kept','KEPT'));
      if(f.reference) badges.appendChild(el('span','badge b-ref','REFERENCE'));
      if(!isKept&&!f.reference&&!isIgn) badges.appendChild(el('span','badge b-rm','remove'));
      card.appendChild(badges);
      card.appendChild(el('div','name',f.path));
      const facts=el('div','facts');
      const lines=[f.width+'×'+f.height+' '+f.format, size(f.bytes),
        (f.taken?'taken '+f.taken:'file '+new Date(Number(f.mtime_ns)/1e6).toISOString().slice(0,19).replace('T',' ')),
        'distance '+(f.distance===null?'?':f.distance)+' · similarity '+(f.similarity===null?'?':f.similarity.toFixed(3)),
        f.relation];
      for(const l of lines){facts.appendChild(el('div',null,l));}
      card.appendChild(facts);
      if(!isKept){
        const k=el('button','keep-btn','Keep this instead');
        k.onclick=()=>{kept[gi]=f.path; ignored[gi].delete(f.path); render();};
        card.appendChild(k);
        const lab=el('label'); const cb=el('input'); cb.type='checkbox'; cb.className='ignore-cb';
        cb.checked=isIgn; cb.onchange=()=>{cb.checked?ignored[gi].add(f.path):ignored[gi].delete(f.path); render();};
        lab.appendChild(cb); lab.appendChild(document.createTextNode(' not a duplicate'));
        card.appendChild(lab);
      }
      row.appendChild(card);
    }
    box.appendChild(row); root.appendChild(box);
  }
}
function buildPlan(){
  const out=JSON.parse(JSON.stringify(data));
  out.created=new Date().toISOString().slice(0,19);
  out.groups.forEach((g,gi)=>{
    if(g.kept!==kept[gi]){g.rule='chosen in the report';}
    g.kept=kept[gi];
    for(const f of g.files){
      const isKept=f.path===g.kept;
      f.ignore=!isKept&&ignored[gi].has(f.path);
      f.action=(isKept||f.reference||f.ignore)?'keep':'remove';
    }
  });
  return out;
}
window.imgfindBuildPlan=buildPlan;
document.getElementById('download').onclick=()=>{
  // mtime_ns travels as a string (nanoseconds exceed a double's 53 bits) and leaves as digits
  const text=JSON.stringify(buildPlan(),null,1).replace(/"mtime_ns": "(\d+)"/g,'"mtime_ns": $1');
  const blob=new Blob([text+'\n'],{type:'application/json'});
  const a=document.createElement('a'); a.href=URL.createObjectURL(blob); a.download='plan.json';
  document.body.appendChild(a); a.click(); a.remove();
};
document.getElementById('prev').onclick=()=>{if(page>0){page--;render();window.scrollTo(0,0);}};
document.getElementById('next').onclick=()=>{if((page+1)*PAGE<data.groups.length){page++;render();window.scrollTo(0,0);}};
render();
})();
"""


def _script_json(doc: Any) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' can end the element or open a comment."""
    text = json.dumps(doc, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(plan_doc: dict[str, Any], title: str = "imgfind duplicates") -> str:
    """The whole report as one HTML string (UTF-8 when written)."""
    plan_doc = {**plan_doc, "groups": [
        {**g, "files": [{**f, "mtime_ns": str(f["mtime_ns"])} for f in g["files"]]}
        for g in plan_doc.get("groups", [])]}
    n = len(plan_doc.get("groups", []))
    files = sum(len(g["files"]) for g in plan_doc.get("groups", []))
    removed = sum(1 for g in plan_doc.get("groups", []) for f in g["files"] if f["action"] == "remove")
    summary = f"{n} groups, {files} files, {removed} to remove"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src file: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<header><h1>{html.escape(title)} — {html.escape(summary)}</h1>"
        "<button id=\"download\">Download plan</button></header>\n"
        "<div class=\"pager\"><button id=\"prev\">◀ previous</button><span id=\"pageinfo\"></span>"
        "<button id=\"next\">next ▶</button></div>\n"
        "<main id=\"groups\"></main>\n"
        f"<script type=\"application/json\" id=\"plan-data\">{_script_json(plan_doc)}</script>\n"
        f"<script>{_JS % {'page': PAGE_SIZE}}</script>\n</body></html>\n"
    )
