<script type="text/javascript">
// A click on a source line with instructions shows or hides them.
function pprof_toggle_asm(ev) {
  const src = ev.target;
  const asm = src ? src.nextSibling : null;
  if (!asm || asm.className !== "asm") {
    return true;
  }
  asm.style.display = asm.style.display === "block" ? "" : "block";
  ev.preventDefault();
  return false;
}
</script>