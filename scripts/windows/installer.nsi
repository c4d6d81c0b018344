; Switchboard's Windows installer, made by `./dev windows-installer` with Debian's makensis (NSIS
; 3). `tauri build --bundles nsis` would make one from its own template, but it must download
; its NSIS plugin (nsis_tauri_utils.dll) from GitHub, which this machine cannot reach; this
; script does the same few things with NSIS's own parts. A per-user install (no administrator):
; the app, the CLI and WebView2Loader.dll (which the app imports) in
; %LOCALAPPDATA%\Programs\Switchboard, a Start menu shortcut, the app id Windows needs to show
; the app's notifications, and an uninstaller listed in "Installed apps". Uninstalling keeps the
; messages (%LOCALAPPDATA%\switchboard) and the database key (Credential Manager).
;
; makensis -DVERSION=0.1.0 -DBIN_DIR=… -DICON=… -DOUT=….exe scripts/windows/installer.nsi
Unicode true
; 64-bit: the app is, and so Debian's wine64 (which runs no 32-bit program) can run the installer too.
Target amd64-unicode
!define NAME "Switchboard"
; The bundle identifier (tauri.conf.json), which notify.rs gives Windows as the app id.
!define APP_ID "app.switchboard.desktop"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
; Microsoft's id of the Evergreen WebView2 Runtime, under which it records its version.
!define WEBVIEW2_KEY "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${NAME}"
OutFile "${OUT}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${NAME}"
SetCompressor /SOLID lzma
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${NAME} installer"
VIAddVersionKey "LegalCopyright" "MIT"

!include "MUI2.nsh"
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\switchboard.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Install"
  SetOutPath "$INSTDIR"
  File "${BIN_DIR}/switchboard.exe"
  File "${BIN_DIR}/switchboard-cli.exe"
  File "${BIN_DIR}/WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortcut "$SMPROGRAMS\${NAME}.lnk" "$INSTDIR\switchboard.exe"
  ; A registered app id is what lets an unpackaged app's toasts show.
  WriteRegStr HKCU "Software\Classes\AppUserModelId\${APP_ID}" "DisplayName" "${NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\switchboard.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ; The window is a WebView2: Windows 11 has the runtime, most Windows 10 machines too. Where
  ; it is missing, say where to get it (nothing is downloaded behind the user's back).
  ReadRegStr $0 HKLM "${WEBVIEW2_KEY}" "pv"
  ${If} $0 == ""
    ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  ${EndIf}
  ${If} $0 == ""
    MessageBox MB_OK|MB_ICONINFORMATION "Switchboard needs the Microsoft Edge WebView2 Runtime, which this computer lacks. Get it from https://developer.microsoft.com/microsoft-edge/webview2/ before starting Switchboard." /SD IDOK
  ${EndIf}
SectionEnd

Section "Uninstall"
  Delete "$INSTDIR\switchboard.exe"
  Delete "$INSTDIR\switchboard-cli.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${NAME}.lnk"
  DeleteRegKey HKCU "Software\Classes\AppUserModelId\${APP_ID}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
