"""Who the company is in WHOIS and RDAP: the allocation holder and the role contact shown for hidden data.

Read from DCLOUD_OPERATOR_* so each deployment names itself without code changes.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorIdentity(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DCLOUD_OPERATOR_", extra="ignore")

    handle: str = "DCLOUD"
    name: str = "디클라우드 주식회사"
    name_en: str = "D-Cloud Co., Ltd."
    address: str = "서울특별시 중구 세종대로 110"
    address_en: str = "110 Sejong-daero, Jung-gu, Seoul"
    zip_code: str = "04524"
    # The role contact that replaces a customer's own when it asked to hide it (Art. 24(6)).
    role_contact_name: str = "IP주소 담당자"
    role_contact_name_en: str = "IP Address Administrator"
    role_phone: str = "+82-2-0000-0043"
    role_email: str = "ip-admin@dcloud.example"
    abuse_email: str = "abuse@dcloud.example"
    abuse_phone: str = "+82-2-0000-0044"
    # The label shown instead of a customer's name when it asked to hide it.
    hidden_org_label: str = "개인 또는 비공개 고객"
    hidden_org_label_en: str = "Private customer of D-Cloud"
    whois_host: str = "whois.dcloud.example"
    rdap_base_url: str = "http://127.0.0.1:8080/rdap/"


@lru_cache
def get_identity() -> OperatorIdentity:
    return OperatorIdentity()
