// The dashboard's one stylesheet and one script, served from memory under /static/.
#include "controller/dashboard/pages.h"

namespace kvmfarm::dashboard {

absl::string_view Stylesheet() {
  return R"css(:root{--fg:#1d2430;--muted:#5b6575;--line:#dde2ea;--bg:#f6f8fb;--accent:#2b7bb9}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5em 1.5em;padding:.6em 1.2em;background:#1d2430;color:#fff}
header .brand{font-weight:700;font-size:1.1em;color:#fff;text-decoration:none}
header nav a{color:#cfd8e3;text-decoration:none;margin-right:1em}
header nav a.active{color:#fff;border-bottom:2px solid #7fb8e6}
header .who{margin-left:auto;color:#cfd8e3;font-size:.9em}
header form{display:inline;margin:0}
header button{background:none;border:1px solid #5b6575;color:#cfd8e3;border-radius:4px;padding:2px 8px;cursor:pointer}
main{padding:1em 1.2em;max-width:1400px;margin:0 auto}
h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .5em}
a{color:var(--accent)}
.panel{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.8em 1em;margin-bottom:1em}
.panel h2{margin-top:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;background:#e4e8ee;color:#333;white-space:nowrap}
.v-kvm_ready{background:#c9ecd0;color:#135c23}.v-kvm_boot_failed,.v-kvm_unusable{background:#f7d0cc;color:#8a1c10}
.v-kvm_no_access{background:#e4e8ee;color:#3b4452}.v-kvm_boot_untested{background:#f6e7b4;color:#6b5200}
.v-vendor_hypervisor_only{background:#e2d7f3;color:#4a2a7a}
.s-idle,.s-succeeded,.s-good{background:#c9ecd0;color:#135c23}.s-busy,.s-running{background:#cfe3f6;color:#1b4f7a}
.s-offline,.s-failed,.s-quarantined{background:#f7d0cc;color:#8a1c10}.s-queued,.s-waiting,.s-pending,.s-maintenance{background:#f6e7b4;color:#6b5200}
.s-cancelled,.s-retired,.s-unchanged,.s-skip,.s-unknown{background:#e4e8ee;color:#3b4452}
.s-pass,.s-improved,.s-fixed{background:#c9ecd0;color:#135c23}.s-fail,.s-regression,.s-open{background:#f7d0cc;color:#8a1c10}.s-warn,.s-inconclusive{background:#f6e7b4;color:#6b5200}
.label{display:inline-block;background:#eef2f7;border-radius:3px;padding:0 5px;margin:1px;font-size:12px}
.counts{display:flex;flex-wrap:wrap;gap:.5em;margin-bottom:.8em}
.count{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.3em .8em}
.count b{font-size:1.2em;margin-right:.3em}
form.inline{display:flex;flex-wrap:wrap;gap:.5em;align-items:end;margin:.5em 0}
form.inline label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
input,select,button{font:inherit;padding:4px 6px;border:1px solid #b8c1ce;border-radius:4px}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff;cursor:pointer}
button.danger{background:#b3261e;border-color:#b3261e;color:#fff;cursor:pointer}
.bar{position:relative;background:#e4e8ee;border-radius:4px;height:18px;min-width:120px}
.bar span{position:absolute;left:0;top:0;bottom:0;background:var(--accent);border-radius:4px}
.bar em{position:relative;font-style:normal;font-size:12px;padding-left:6px;color:#111}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 1em;margin:0}dt{color:var(--muted)}dd{margin:0}
ol.timeline{list-style:none;padding:0;margin:0}ol.timeline li{border-left:3px solid var(--line);padding:2px 0 6px 10px}
.muted{color:var(--muted)}.error{color:#8a1c10;font-weight:600}
pre{background:#11161f;color:#dfe6ee;padding:.6em;border-radius:4px;overflow-x:auto;max-height:30em}
svg{max-width:100%;height:auto}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:1em}
.signin{max-width:380px;margin:4em auto}
.signin input{width:100%}
@media (max-width:700px){main{padding:.6em}th,td{padding:3px 4px}.hide-narrow{display:none}header .who{margin-left:0}}
)css";
}

// Polls the sweep's progress every 2 s (not while the tab is hidden; backing off to
// 30 s while the controller fails) and moves its bars, its state and its tasks
// without a reload. It stops when the sweep has ended, and on a 4xx says why (a
// session that expired says to reload).
absl::string_view LiveScript() {
  return R"js((function(){
var root=document.querySelector('[data-live-sweep]');
if(!root||root.getAttribute('data-finished')==='true')return;
var url=root.getAttribute('data-live-sweep'),wait=2000;
function bar(el,done,total){if(!el)return;var p=total?Math.round(100*done/total):0;
el.querySelector('span').style.width=p+'%';el.querySelector('em').textContent=done+' / '+total+' ('+p+'%)';}
function say(text){var e=document.getElementById('sweep-eta');e.textContent=text;e.className='error';}
function apply(s){var st=document.getElementById('sweep-state');st.textContent=s.state;st.className='badge s-'+s.state;
document.getElementById('sweep-eta').textContent=s.eta?'ETA '+s.eta:'';
bar(document.getElementById('bar-overall'),s.done,s.total);
(s.devices||[]).forEach(function(d){bar(document.getElementById('bar-dev-'+d.id),d.done,d.total);});
(s.tasks||[]).forEach(function(t){var row=document.getElementById('task-'+t.id);if(!row)return;row=row.closest('tr');
var c=row.querySelector('.task-state');c.textContent=t.state;c.className='badge task-state s-'+t.state;
row.querySelector('.task-attempts').textContent=t.attempts;row.querySelector('.task-status').textContent=t.status;});
if(s.finished){root.setAttribute('data-finished','true');var f=document.getElementById('cancel-form');if(f)f.remove();}}
function tick(){if(document.hidden){setTimeout(tick,wait);return;}
fetch(url,{credentials:'same-origin',redirect:'manual'}).then(function(r){
if(r.status===401||r.type==='opaqueredirect'){say('Signed out: reload the page to sign in again.');return;}
if(r.status>=400&&r.status<500){say('This page stopped updating: HTTP '+r.status+'.');return;}
if(!r.ok)throw r.status;wait=2000;return r.json().then(function(s){apply(s);if(!s.finished)setTimeout(tick,wait);});
}).catch(function(){wait=Math.min(wait*2,30000);setTimeout(tick,wait);});}
setTimeout(tick,wait);})();
)js";
}

}  // namespace kvmfarm::dashboard
